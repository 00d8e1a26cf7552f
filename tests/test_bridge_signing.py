"""Standard Webhooks signing (bridge/signing.py), one behaviour per test.

Signatures are checked with the ``standardwebhooks`` package itself, whose ``verify`` reads the
wall clock: the ``package_clock`` fixture pins that clock, so no test depends on the time it runs.
"""

from __future__ import annotations

import base64
import json
import re
from datetime import UTC, datetime, timedelta, timezone, tzinfo

import pytest
import standardwebhooks.webhooks as package
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from api_client.errors import MxGuardError
from bridge import signing
from bridge.signing import SignatureError

SENT_AT = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)
"""When the attempts in these tests are made (and what the receivers' clocks say)."""
EVENT_AT = datetime(2030, 1, 2, 3, 0, 0, 123456, tzinfo=UTC)
SECRET = "whsec_" + base64.b64encode(bytes(range(32))).decode()
OTHER_SECRET = "whsec_" + base64.b64encode(bytes(range(100, 132))).decode()
ITEM = {"id": "vrd_0123456789abcdef", "verdict": "quarantine", "score": 7.5, "subject": "Café"}
WEBHOOK_ID = signing.webhook_id("sub_000000000000000000000001", "vrd_0123456789abcdef")


class PackageClock:
    """What ``standardwebhooks`` believes the time is."""

    def __init__(self) -> None:
        self.now = SENT_AT


@pytest.fixture
def package_clock(monkeypatch: pytest.MonkeyPatch) -> PackageClock:
    """``standardwebhooks`` reads ``datetime.now``: make it read ``clock.now`` (``SENT_AT``)."""
    clock = PackageClock()

    class PinnedDatetime(datetime):
        @classmethod
        def now(cls, tz: tzinfo | None = None) -> datetime:  # type: ignore[override]
            return clock.now.astimezone(tz)

    monkeypatch.setattr(package, "datetime", PinnedDatetime)
    return clock


def delivery(timestamp: datetime = SENT_AT) -> tuple[str, dict[str, str]]:
    text = signing.body("new_verdict", EVENT_AT, ITEM)
    return text, signing.signed_headers(SECRET, WEBHOOK_ID, timestamp, text)


# -- secrets ---------------------------------------------------------------------------------------


def test_new_secret_is_whsec_and_base64_of_the_random_bytes() -> None:
    secret = signing.new_secret(lambda n: b"\x07" * n)
    assert secret.startswith("whsec_")
    assert base64.b64decode(secret.removeprefix("whsec_")) == b"\x07" * signing.SECRET_BYTES


def test_new_secret_has_at_least_24_random_bytes_by_default() -> None:
    secret = signing.new_secret()
    assert len(base64.b64decode(secret.removeprefix("whsec_"))) >= 24


def test_new_secret_differs_each_time() -> None:
    assert signing.new_secret() != signing.new_secret()


def test_new_secret_refuses_a_source_giving_fewer_than_24_bytes() -> None:
    with pytest.raises(ValueError, match="at least 24"):
        signing.new_secret(lambda n: b"\x01" * 16)


def test_new_secret_is_accepted_by_the_package() -> None:
    Webhook(signing.new_secret(lambda n: b"\x02" * n))


# -- webhook ids -----------------------------------------------------------------------------------


def test_webhook_id_is_the_same_for_the_same_subscription_and_item() -> None:
    assert signing.webhook_id("sub_a", "vrd_1") == signing.webhook_id("sub_a", "vrd_1")


def test_webhook_id_is_msg_and_hex_without_dots() -> None:
    assert re.fullmatch(r"msg_[0-9a-f]{32}", signing.webhook_id("sub_a", "vrd_1"))


def test_webhook_id_differs_between_items() -> None:
    assert signing.webhook_id("sub_a", "vrd_1") != signing.webhook_id("sub_a", "vrd_2")


def test_webhook_id_differs_between_subscriptions() -> None:
    assert signing.webhook_id("sub_a", "vrd_1") != signing.webhook_id("sub_b", "vrd_1")


def test_webhook_id_joins_its_parts_unambiguously() -> None:
    assert signing.webhook_id("sub_a:", "vrd") != signing.webhook_id("sub_a", ":vrd")
    assert signing.webhook_id('sub_a", "', "x") != signing.webhook_id("sub_a", '", "x')


# -- body ------------------------------------------------------------------------------------------


def test_body_is_compact_json_with_type_timestamp_and_data() -> None:
    text = signing.body("new_verdict", EVENT_AT, ITEM)
    assert json.loads(text) == {
        "type": "new_verdict",
        "timestamp": "2030-01-02T03:00:00.123456Z",
        "data": ITEM,
    }
    assert ", " not in text
    assert ": " not in text


def test_body_writes_the_timestamp_in_utc_whatever_its_zone() -> None:
    paris = EVENT_AT.astimezone(timezone(timedelta(hours=1)))
    assert json.loads(signing.body("new_verdict", paris, ITEM))["timestamp"] == (
        "2030-01-02T03:00:00.123456Z"
    )


def test_body_refuses_a_naive_timestamp() -> None:
    with pytest.raises(ValueError, match="naive"):
        signing.body("new_verdict", EVENT_AT.replace(tzinfo=None), ITEM)


def test_body_is_ascii_so_the_signed_bytes_do_not_depend_on_an_encoding() -> None:
    assert signing.body("new_verdict", EVENT_AT, ITEM).isascii()


# -- headers ---------------------------------------------------------------------------------------


def test_signed_headers_has_the_standard_headers_and_the_content_type() -> None:
    _, headers = delivery()
    assert set(headers) == {
        "webhook-id",
        "webhook-timestamp",
        "webhook-signature",
        "content-type",
    }
    assert headers["content-type"] == "application/json"
    assert headers["webhook-id"] == WEBHOOK_ID


def test_signed_headers_timestamp_is_integer_seconds_of_the_attempt() -> None:
    _, headers = delivery(SENT_AT + timedelta(microseconds=999_999))
    assert headers["webhook-timestamp"] == str(int(SENT_AT.timestamp()))


def test_signed_headers_signature_is_v1_and_base64_of_a_sha256() -> None:
    _, headers = delivery()
    version, encoded = headers["webhook-signature"].split(",")
    assert version == "v1"
    assert len(base64.b64decode(encoded)) == 32


def test_signed_headers_sign_an_aware_time_in_another_zone_as_its_utc_instant() -> None:
    _, utc_headers = delivery()
    _, zoned_headers = delivery(SENT_AT.astimezone(timezone(timedelta(hours=-5))))
    assert zoned_headers == utc_headers


def test_signed_headers_refuse_a_naive_timestamp() -> None:
    with pytest.raises(ValueError, match="naive"):
        delivery(SENT_AT.replace(tzinfo=None))


def test_signed_headers_refuse_a_webhook_id_with_a_dot() -> None:
    with pytest.raises(ValueError, match=r"'\.'"):
        signing.signed_headers(SECRET, "msg_a.b", SENT_AT, "{}")


def test_signed_headers_refuse_a_secret_without_the_whsec_prefix() -> None:
    with pytest.raises(SignatureError) as caught:
        signing.signed_headers(SECRET.removeprefix("whsec_"), WEBHOOK_ID, SENT_AT, "{}")
    assert caught.value.reason == "bad_secret"


def test_signed_headers_refuse_a_short_secret_without_quoting_it() -> None:
    short = "whsec_" + base64.b64encode(b"sixteen bytes!!!").decode()
    with pytest.raises(SignatureError) as caught:
        signing.signed_headers(short, WEBHOOK_ID, SENT_AT, "{}")
    assert caught.value.reason == "bad_secret"
    assert short not in str(caught.value)
    assert short not in repr(caught.value)
    assert short.removeprefix("whsec_") not in str(caught.value)


def test_signature_error_is_an_mxguard_error() -> None:
    assert issubclass(SignatureError, MxGuardError)


# -- verified by the standardwebhooks package ------------------------------------------------------


@pytest.mark.usefixtures("package_clock")
def test_package_verifies_a_delivery_signed_here() -> None:
    text, headers = delivery()
    assert Webhook(SECRET).verify(text, headers) == json.loads(text)


@pytest.mark.usefixtures("package_clock")
def test_package_rejects_a_tampered_body() -> None:
    text, headers = delivery()
    with pytest.raises(WebhookVerificationError):
        Webhook(SECRET).verify(text.replace("quarantine", "allow"), headers)


@pytest.mark.usefixtures("package_clock")
def test_package_rejects_a_tampered_webhook_id() -> None:
    text, headers = delivery()
    forged = {**headers, "webhook-id": signing.webhook_id("sub_other", "vrd_0123456789abcdef")}
    with pytest.raises(WebhookVerificationError):
        Webhook(SECRET).verify(text, forged)


@pytest.mark.usefixtures("package_clock")
def test_package_rejects_a_tampered_timestamp() -> None:
    text, headers = delivery()
    forged = {**headers, "webhook-timestamp": str(int(SENT_AT.timestamp()) - 1)}
    with pytest.raises(WebhookVerificationError):
        Webhook(SECRET).verify(text, forged)


@pytest.mark.usefixtures("package_clock")
def test_package_rejects_another_secret() -> None:
    text, headers = delivery()
    with pytest.raises(WebhookVerificationError):
        Webhook(OTHER_SECRET).verify(text, headers)


def test_resigning_later_changes_the_signature_but_not_the_webhook_id() -> None:
    _, first = delivery()
    _, retry = delivery(SENT_AT + timedelta(minutes=5))
    assert retry["webhook-id"] == first["webhook-id"]
    assert retry["webhook-timestamp"] != first["webhook-timestamp"]
    assert retry["webhook-signature"] != first["webhook-signature"]


def test_package_verifies_a_retry_signed_at_its_own_timestamp(
    package_clock: PackageClock,
) -> None:
    package_clock.now = SENT_AT + timedelta(hours=2)
    text, headers = delivery(package_clock.now)
    assert Webhook(SECRET).verify(text, headers)["data"] == ITEM


def test_package_rejects_a_delivery_replayed_after_its_tolerance(
    package_clock: PackageClock,
) -> None:
    text, headers = delivery()
    package_clock.now = SENT_AT + timedelta(minutes=6)
    with pytest.raises(WebhookVerificationError, match="too old"):
        Webhook(SECRET).verify(text, headers)


# -- verify (for receivers written in Python) ------------------------------------------------------


def test_verify_returns_the_parsed_body() -> None:
    text, headers = delivery()
    assert signing.verify(SECRET, text, headers, now=SENT_AT) == json.loads(text)


def test_verify_accepts_bytes_and_header_names_in_any_case() -> None:
    text, headers = delivery()
    shouted = {name.title(): value for name, value in headers.items()}
    assert signing.verify(SECRET, text.encode(), shouted, now=SENT_AT)["type"] == "new_verdict"


def test_verify_accepts_a_timestamp_just_inside_the_tolerance() -> None:
    text, headers = delivery()
    assert signing.verify(SECRET, text, headers, now=SENT_AT + timedelta(seconds=300))


def test_verify_rejects_a_timestamp_older_than_the_tolerance() -> None:
    text, headers = delivery()
    with pytest.raises(SignatureError, match="301 s old") as caught:
        signing.verify(SECRET, text, headers, now=SENT_AT + timedelta(seconds=301))
    assert caught.value.reason == "too_old"


def test_verify_rejects_a_timestamp_in_the_future_beyond_the_tolerance() -> None:
    text, headers = delivery()
    with pytest.raises(SignatureError, match="in the future") as caught:
        signing.verify(SECRET, text, headers, now=SENT_AT - timedelta(seconds=301))
    assert caught.value.reason == "too_new"


def test_verify_uses_the_tolerance_it_is_given() -> None:
    text, headers = delivery()
    with pytest.raises(SignatureError) as caught:
        signing.verify(SECRET, text, headers, now=SENT_AT + timedelta(seconds=31), tolerance_s=30)
    assert caught.value.reason == "too_old"


def test_verify_rejects_a_tampered_body() -> None:
    text, headers = delivery()
    with pytest.raises(SignatureError, match="no v1 signature matches") as caught:
        signing.verify(SECRET, text.replace("7.5", "0.5"), headers, now=SENT_AT)
    assert caught.value.reason == "no_match"


def test_verify_rejects_a_tampered_webhook_id() -> None:
    text, headers = delivery()
    forged = {**headers, "webhook-id": "msg_" + "0" * 32}
    with pytest.raises(SignatureError) as caught:
        signing.verify(SECRET, text, forged, now=SENT_AT)
    assert caught.value.reason == "no_match"


def test_verify_rejects_another_secret_without_quoting_either() -> None:
    text, headers = delivery()
    with pytest.raises(SignatureError) as caught:
        signing.verify(OTHER_SECRET, text, headers, now=SENT_AT)
    shown = str(caught.value) + repr(caught.value)
    for secret in (SECRET, OTHER_SECRET):
        assert secret.removeprefix("whsec_") not in shown
    assert headers["webhook-signature"].split(",")[1] not in shown


@pytest.mark.parametrize("missing", ["webhook-id", "webhook-timestamp", "webhook-signature"])
def test_verify_rejects_a_missing_header_naming_it(missing: str) -> None:
    text, headers = delivery()
    del headers[missing]
    with pytest.raises(SignatureError, match=missing) as caught:
        signing.verify(SECRET, text, headers, now=SENT_AT)
    assert caught.value.reason == "missing_header"


@pytest.mark.parametrize("stamp", ["1893553445.5", "-1", "soon", "\uff11\uff12\uff13"])
def test_verify_rejects_a_timestamp_that_is_not_integer_seconds(stamp: str) -> None:
    text, headers = delivery()
    with pytest.raises(SignatureError) as caught:
        signing.verify(SECRET, text, {**headers, "webhook-timestamp": stamp}, now=SENT_AT)
    assert caught.value.reason == "bad_timestamp"


@pytest.mark.parametrize("signature", ["v1", "v1,", "v1,not base64!", "v2,AAAA", "garbage"])
def test_verify_rejects_a_malformed_signature_without_crashing(signature: str) -> None:
    text, headers = delivery()
    with pytest.raises(SignatureError) as caught:
        signing.verify(SECRET, text, {**headers, "webhook-signature": signature}, now=SENT_AT)
    assert caught.value.reason == "no_match"


def test_verify_accepts_any_matching_signature_of_several_as_in_a_secret_rotation() -> None:
    text, headers = delivery()
    old = signing.signed_headers(OTHER_SECRET, WEBHOOK_ID, SENT_AT, text)
    both = f"{old['webhook-signature']} {headers['webhook-signature']}"
    assert signing.verify(SECRET, text, {**headers, "webhook-signature": both}, now=SENT_AT)


def test_verify_rejects_a_signed_body_that_is_not_a_json_object() -> None:
    headers = signing.signed_headers(SECRET, WEBHOOK_ID, SENT_AT, "[1, 2]")
    with pytest.raises(SignatureError) as caught:
        signing.verify(SECRET, "[1, 2]", headers, now=SENT_AT)
    assert caught.value.reason == "bad_body"
