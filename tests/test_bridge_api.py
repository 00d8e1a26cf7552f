"""The bridge's HTTP API over real HTTP: uvicorn on a loopback port, SQLite in a temporary folder,
and the real sandbox as MxGuard (its ``/me`` decides whose a token is)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests
from openapi_spec_validator import validate

from api_client import MxGuardClient, RetryPolicy
from bridge.api import create_app
from bridge.models import SubscriptionStatus
from bridge.secrets_box import SecretBox
from bridge.storage import BridgeStorage
from sandbox.server import LOOPBACK, LoopbackServer, SandboxServer, free_port
from tests.bridge_support import (
    Clock,
    open_storage,
    public_resolver,
    seed_attempts,
    stored_bytes,
)
from tests.support import Account, SandboxAdmin
from triggers.polling.new_domain import TRIGGER as NEW_DOMAIN
from triggers.polling.new_quarantined_message import TRIGGER as NEW_QUARANTINED_MESSAGE
from triggers.polling.new_verdict import TRIGGER as NEW_VERDICT

MICROS = 1_000_000
START = 1_800_000_000 * MICROS
"""2027-01-15T08:00:00Z: the bridge's injected clock."""
TRIGGERS = {t.key: t for t in (NEW_VERDICT, NEW_QUARANTINED_MESSAGE, NEW_DOMAIN)}
TARGET = "https://receiver.example/hooks/mxguard"
GOOD_SECRET = "whsec_" + "A" * 44  # 33 bytes of base64


@dataclass
class Bridge:
    """A running bridge API, and every answer it gave (to look for leaked tokens in)."""

    base_url: str
    storage: BridgeStorage
    path: Path
    clock: Clock
    answers: list[requests.Response] = field(default_factory=list)

    def call(
        self, method: str, path: str, account: Account | str | None = None, **options: Any
    ) -> requests.Response:
        headers = dict(options.pop("headers", {}))
        if account is not None:
            token = account if isinstance(account, str) else account.token
            headers["Authorization"] = f"Bearer {token}"
        answer = requests.request(
            method, self.base_url + path, headers=headers, timeout=30, **options
        )
        self.answers.append(answer)
        return answer

    def subscribe(self, account: Account, **body: Any) -> dict[str, Any]:
        answer = self.call(
            "POST", "/v1/subscriptions", account, json={"event": "new_verdict", **body}
        )
        assert answer.status_code == 201, answer.text
        created: dict[str, Any] = answer.json()
        return created


StartBridge = Callable[..., Bridge]


@pytest.fixture
def start_bridge(tmp_path: Path, sandbox: SandboxServer) -> Iterator[StartBridge]:
    """Starts a bridge API (options as ``create_app`` takes them) against the sandbox."""
    servers: list[LoopbackServer] = []
    stores: list[BridgeStorage] = []

    def start(**options: Any) -> Bridge:
        path = tmp_path / f"bridge{len(stores)}.sqlite"
        storage = open_storage(path, SecretBox.from_environment(tmp_path, environ={}))
        stores.append(storage)
        clock = Clock(START)
        settings: dict[str, Any] = {
            "triggers": TRIGGERS,
            "client_factory": lambda token: MxGuardClient(
                token, sandbox.base_url, rate_limit_db=":memory:"
            ),
            "clock_us": clock,
            "resolve": public_resolver,
            **options,
        }
        server = LoopbackServer(create_app(storage, **settings), name="the bridge").start()
        servers.append(server)
        return Bridge(server.base_url, storage, path, clock)

    yield start
    for server in servers:
        server.stop()
    for storage in stores:
        storage.close()


@pytest.fixture
def bridge(start_bridge: StartBridge) -> Bridge:
    return start_bridge()


def assert_error(answer: requests.Response, status: int, param: str | None = None) -> str:
    """The answer is the contract's error shape with this status (and param); its message."""
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith("application/json")
    body = answer.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"type", "message", "param"}
    assert isinstance(body["error"]["type"], str)
    assert body["error"]["message"]
    assert body["error"]["param"] == param
    message: str = body["error"]["message"]
    return message


def routes_of(subscription_id: str) -> list[tuple[str, str, dict[str, Any]]]:
    base = f"/v1/subscriptions/{subscription_id}"
    return [
        ("GET", base, {}),
        ("GET", f"{base}/deliveries", {}),
        ("POST", f"{base}/recover", {"json": {"since": "2026-01-01T00:00:00Z"}}),
        ("DELETE", base, {}),
    ]


# -- subscriptions -----------------------------------------------------------------------------


def test_subscribe_list_get_delete_round_trip(bridge: Bridge, account: Account) -> None:
    created = bridge.subscribe(account, target_url=TARGET, description="zap 1")
    assert created["id"].startswith("sub_")
    assert len(created["id"]) == 4 + 24
    assert created["event"] == "new_verdict"
    assert created["target_url"] == TARGET
    assert created["description"] == "zap 1"
    assert created["status"] == "active"

    listed = bridge.call("GET", "/v1/subscriptions", account)
    assert listed.status_code == 200
    shown = {k: v for k, v in created.items() if k != "secret"}
    assert listed.json() == {"data": [shown]}
    one = bridge.call("GET", f"/v1/subscriptions/{created['id']}", account)
    assert one.status_code == 200
    assert one.json() == shown

    gone = bridge.call("DELETE", f"/v1/subscriptions/{created['id']}", account)
    assert gone.status_code == 204
    assert gone.content == b""
    assert bridge.call("GET", "/v1/subscriptions", account).json() == {"data": []}
    assert_error(bridge.call("GET", f"/v1/subscriptions/{created['id']}", account), 404, "id")
    assert_error(bridge.call("DELETE", f"/v1/subscriptions/{created['id']}", account), 404, "id")


def test_new_subscription_starts_from_the_bridge_clock(bridge: Bridge, account: Account) -> None:
    bridge.clock.now = START + 1_234_567
    created = bridge.subscribe(account, target_url=TARGET)
    assert created["created_at"] == "2027-01-15T08:00:01.234567Z"
    stored = bridge.storage.subscription(account.customer_id, created["id"])
    assert stored is not None
    assert stored.created_at == START + 1_234_567


def test_filters_are_validated_by_the_trigger_and_stored_normalised(
    bridge: Bridge, account: Account
) -> None:
    created = bridge.subscribe(
        account, target_url=TARGET, filters={"domain": "Example.COM", "verdict": ["spam"]}
    )
    assert created["filters"] == {"domain": "example.com", "verdict": ["spam"], "action": []}
    got = bridge.call("GET", f"/v1/subscriptions/{created['id']}", account).json()
    assert got["filters"] == created["filters"]


def test_list_filters_by_target_url(bridge: Bridge, account: Account) -> None:
    first = bridge.subscribe(account, target_url=TARGET)
    bridge.subscribe(account, target_url="https://other.example/hook")
    listed = bridge.call("GET", "/v1/subscriptions", account, params={"target_url": TARGET})
    assert [s["id"] for s in listed.json()["data"]] == [first["id"]]


def test_secret_is_shown_only_in_the_creation_answer(bridge: Bridge, account: Account) -> None:
    created = bridge.subscribe(account, target_url=TARGET)
    secret = created["secret"]
    assert secret.startswith("whsec_")
    answers = [
        bridge.call("GET", "/v1/subscriptions", account),
        bridge.call("GET", f"/v1/subscriptions/{created['id']}", account),
        bridge.call("GET", f"/v1/subscriptions/{created['id']}/deliveries", account),
        bridge.call(
            "POST",
            f"/v1/subscriptions/{created['id']}/recover",
            account,
            json={"since": "2026-01-01T00:00:00Z"},
        ),
    ]
    for answer in answers:
        assert answer.status_code == 200
        assert "secret" not in answer.text
        assert secret not in answer.text
        assert secret[len("whsec_") :] not in answer.text


def test_a_secret_given_by_the_caller_is_the_one_kept(bridge: Bridge, account: Account) -> None:
    created = bridge.subscribe(account, target_url=TARGET, secret=GOOD_SECRET)
    assert created["secret"] == GOOD_SECRET
    stored = bridge.storage.subscription(account.customer_id, created["id"])
    assert stored is not None
    assert stored.secret == GOOD_SECRET


@pytest.mark.parametrize(
    "secret",
    ["A" * 44, "whsec_not base64!", "whsec_" + "A" * 8],
    ids=["no-prefix", "not-base64", "too-short"],
)
def test_a_malformed_secret_is_422_without_quoting_it(
    bridge: Bridge, account: Account, secret: str
) -> None:
    answer = bridge.call(
        "POST",
        "/v1/subscriptions",
        account,
        json={"event": "new_verdict", "target_url": TARGET, "secret": secret},
    )
    message = assert_error(answer, 422, "secret")
    assert secret not in answer.text
    assert "whsec_" in message


def test_unknown_event_is_422_naming_event_and_the_valid_ones(
    bridge: Bridge, account: Account
) -> None:
    answer = bridge.call(
        "POST", "/v1/subscriptions", account, json={"event": "new_virus", "target_url": TARGET}
    )
    message = assert_error(answer, 422, "event")
    for key in TRIGGERS:
        assert key in message


@pytest.mark.parametrize(
    ("filters", "param"),
    [
        ({"verdict": "spam"}, "filters.verdict"),
        ({"colour": "red"}, "filters.colour"),
        ({"domain": "not a domain!"}, "filters.domain"),
    ],
    ids=["not-a-list", "unknown-filter", "bad-domain"],
)
def test_bad_filters_are_422_naming_the_field(
    bridge: Bridge, account: Account, filters: dict[str, Any], param: str
) -> None:
    answer = bridge.call(
        "POST",
        "/v1/subscriptions",
        account,
        json={"event": "new_verdict", "target_url": TARGET, "filters": filters},
    )
    message = assert_error(answer, 422, param)
    assert message.startswith(param)


def test_a_missing_field_is_422_naming_it(bridge: Bridge, account: Account) -> None:
    answer = bridge.call("POST", "/v1/subscriptions", account, json={"event": "new_verdict"})
    assert_error(answer, 422, "target_url")


def test_private_target_is_422_naming_the_rule(bridge: Bridge, account: Account) -> None:
    answer = bridge.call(
        "POST",
        "/v1/subscriptions",
        account,
        json={"event": "new_verdict", "target_url": "http://127.0.0.1:8080/hook"},
    )
    message = assert_error(answer, 422, "target_url")
    assert "address" in message
    assert "loopback" in message
    assert answer.json()["error"]["type"] == "target_refused"
    assert bridge.call("GET", "/v1/subscriptions", account).json() == {"data": []}


def test_a_target_resolving_to_a_private_address_is_422(
    start_bridge: StartBridge, account: Account
) -> None:
    bridge = start_bridge(resolve=lambda host, port: ["10.0.0.5"])
    answer = bridge.call(
        "POST", "/v1/subscriptions", account, json={"event": "new_verdict", "target_url": TARGET}
    )
    assert "rule: address" in assert_error(answer, 422, "target_url")


def test_a_target_that_is_not_http_is_422_naming_the_rule(bridge: Bridge, account: Account) -> None:
    answer = bridge.call(
        "POST",
        "/v1/subscriptions",
        account,
        json={"event": "new_verdict", "target_url": "ftp://receiver.example/hook"},
    )
    assert "rule: scheme" in assert_error(answer, 422, "target_url")


def test_private_target_is_accepted_with_allow_private_targets(
    start_bridge: StartBridge, account: Account
) -> None:
    bridge = start_bridge(allow_private_targets=True)
    created = bridge.subscribe(account, target_url="http://127.0.0.1:8080/hook")
    assert created["target_url"] == "http://127.0.0.1:8080/hook"


def test_malformed_json_body_is_400_not_500(bridge: Bridge, account: Account) -> None:
    answer = bridge.call(
        "POST",
        "/v1/subscriptions",
        account,
        data=b'{"event": "new_verdict", ',
        headers={"Content-Type": "application/json"},
    )
    assert "JSON" in assert_error(answer, 400)


def test_a_body_that_is_not_an_object_is_422_not_500(bridge: Bridge, account: Account) -> None:
    answer = bridge.call("POST", "/v1/subscriptions", account, json=["new_verdict"])
    assert_error(answer, 422)


# -- who may see what --------------------------------------------------------------------------


def test_another_customers_token_gets_404_for_every_route_of_a_subscription(
    bridge: Bridge, account: Account, admin: SandboxAdmin
) -> None:
    created = bridge.subscribe(account, target_url=TARGET)
    stranger = admin.new_account(domains=("example.org",))
    for method, path, options in routes_of(created["id"]):
        assert_error(bridge.call(method, path, stranger, **options), 404, "id")
    assert bridge.call("GET", "/v1/subscriptions", stranger).json() == {"data": []}
    assert bridge.call("GET", f"/v1/subscriptions/{created['id']}", account).status_code == 200


def test_an_unknown_subscription_is_404_for_every_route(bridge: Bridge, account: Account) -> None:
    for method, path, options in routes_of("sub_" + "0" * 24):
        assert_error(bridge.call(method, path, account, **options), 404, "id")


@pytest.mark.parametrize(
    "authorization",
    [None, "Basic dXNlcjpwYXNz", "Bearer not-a-token", "Bearer mxg_live_" + "x" * 43],
    ids=["missing", "not-bearer", "malformed", "unknown-to-mxguard"],
)
def test_a_bad_or_missing_token_is_401_in_the_error_shape(
    bridge: Bridge, authorization: str | None
) -> None:
    headers = {} if authorization is None else {"Authorization": authorization}
    answer = bridge.call("GET", "/v1/subscriptions", headers=headers)
    assert_error(answer, 401)
    assert answer.json()["error"]["type"] == "authentication_failed"
    assert answer.headers["WWW-Authenticate"] == "Bearer"
    if authorization is not None:
        assert authorization.split(" ", 1)[1] not in answer.text


def test_a_revoked_token_is_401(bridge: Bridge, admin: SandboxAdmin) -> None:
    account = admin.new_account()
    admin.revoke(account)
    assert_error(bridge.call("GET", "/v1/subscriptions", account), 401)


def test_mxguard_checks_a_token_once_per_minute(
    bridge: Bridge, account: Account, admin: SandboxAdmin
) -> None:
    def checks() -> int:
        return admin.requests_served(account)["by_path"].get("GET /api/v1/me", 0)

    before = checks()
    for _ in range(3):
        assert bridge.call("GET", "/v1/subscriptions", account).status_code == 200
    assert checks() == before + 1
    bridge.clock.now += 61 * MICROS
    assert bridge.call("GET", "/v1/subscriptions", account).status_code == 200
    assert checks() == before + 2


def test_mxguard_unreachable_is_502(start_bridge: StartBridge, account: Account) -> None:
    nowhere = f"http://{LOOPBACK}:{free_port()}"
    bridge = start_bridge(
        client_factory=lambda token: MxGuardClient(
            token, nowhere, rate_limit_db=":memory:", retry=RetryPolicy(max_retries=0)
        )
    )
    answer = bridge.call("GET", "/v1/subscriptions", account)
    assert "cannot be reached" in assert_error(answer, 502)


def test_a_checked_token_is_kept_for_the_pumps(bridge: Bridge, account: Account) -> None:
    created = bridge.subscribe(account, target_url=TARGET)
    stored = bridge.storage.subscription(account.customer_id, created["id"])
    assert stored is not None
    assert bridge.storage.token(stored.token_fingerprint) == account.token


# -- deliveries and recover --------------------------------------------------------------------


def test_deliveries_are_the_attempts_newest_first(bridge: Bridge, account: Account) -> None:
    created = bridge.subscribe(account, target_url=TARGET)
    stored = bridge.storage.subscription(account.customer_id, created["id"])
    assert stored is not None
    seed_attempts(bridge.storage, f"new_verdict:{stored.token_fingerprint}", created["id"], START)
    answer = bridge.call("GET", f"/v1/subscriptions/{created['id']}/deliveries", account)
    assert answer.status_code == 200
    attempts = answer.json()["data"]
    assert [(a["status_code"], a["excerpt"]) for a in attempts] == [
        (None, "connection refused"),
        (200, "ok"),
        (500, "boom"),
    ]
    assert attempts[0]["at"] == "2027-01-15T08:00:17.000000Z"
    assert attempts[0]["next_retry_at"] == "2027-01-15T08:05:17.000000Z"
    assert attempts[0]["latency_ms"] == 12.5
    assert attempts[1]["next_retry_at"] is None
    limited = bridge.call(
        "GET", f"/v1/subscriptions/{created['id']}/deliveries", account, params={"limit": 1}
    )
    assert limited.json()["data"] == attempts[:1]


def test_deliveries_limit_out_of_range_is_422(bridge: Bridge, account: Account) -> None:
    created = bridge.subscribe(account, target_url=TARGET)
    answer = bridge.call(
        "GET", f"/v1/subscriptions/{created['id']}/deliveries", account, params={"limit": 0}
    )
    assert_error(answer, 422, "limit")


def test_recover_requeues_since_and_reenables(bridge: Bridge, account: Account) -> None:
    created = bridge.subscribe(account, target_url=TARGET)
    stored = bridge.storage.subscription(account.customer_id, created["id"])
    assert stored is not None
    seed_attempts(
        bridge.storage, f"new_verdict:{stored.token_fingerprint}", created["id"], START
    )  # one left undelivered
    bridge.storage.set_status(created["id"], SubscriptionStatus.disabled, START)
    path = f"/v1/subscriptions/{created['id']}"
    assert bridge.call("GET", path, account).json()["status"] == "disabled"
    path += "/recover"
    later = bridge.call("POST", path, account, json={"since": "2027-01-15T09:00:00Z"})
    assert later.json() == {"requeued": 0, "status": "active"}
    answer = bridge.call("POST", path, account, json={"since": "2027-01-15T08:00:00+00:00"})
    assert answer.status_code == 200
    assert answer.json() == {"requeued": 1, "status": "active"}


@pytest.mark.parametrize(
    "since", ["2027-01-15T08:00:00", 1_800_000_000, "yesterday"], ids=["naive", "number", "words"]
)
def test_recover_since_not_rfc3339_is_422(bridge: Bridge, account: Account, since: object) -> None:
    created = bridge.subscribe(account, target_url=TARGET)
    answer = bridge.call(
        "POST",
        f"/v1/subscriptions/{created['id']}/recover",
        account,
        json={"since": since},
    )
    assert_error(answer, 422, "since")


# -- samples -----------------------------------------------------------------------------------


def test_samples_are_the_newest_verdicts_in_the_delivered_shape(
    bridge: Bridge, account: Account, admin: SandboxAdmin
) -> None:
    admin.traffic(account, 5, spread_seconds=60, seed=11)
    newest = admin.public(account, "GET", "/verdicts?order=desc&limit=3").json()["data"]
    answer = bridge.call("GET", "/v1/samples/new_verdict", account)
    assert answer.status_code == 200
    samples = answer.json()["data"]
    assert [s["data"] for s in samples] == newest
    for sample, verdict in zip(samples, newest, strict=True):
        assert sample["type"] == "new_verdict"
        assert sample["timestamp"] == verdict["scanned_at"]


def test_samples_of_an_unknown_event_are_404_naming_the_valid_ones(
    bridge: Bridge, account: Account
) -> None:
    message = assert_error(bridge.call("GET", "/v1/samples/new_virus", account), 404, "event")
    assert "new_verdict" in message


# -- the whole surface -------------------------------------------------------------------------


def test_unknown_route_is_404_in_the_error_shape(bridge: Bridge, account: Account) -> None:
    assert_error(bridge.call("GET", "/v1/nothing-here", account), 404)
    assert_error(bridge.call("GET", "/v1/subscriptions/", account), 404)


def test_wrong_method_is_405_in_the_error_shape(bridge: Bridge, account: Account) -> None:
    answer = bridge.call("PUT", "/v1/subscriptions", account)
    assert_error(answer, 405)
    assert answer.headers["Allow"] == "GET, POST"


def test_token_never_appears_in_answers_or_in_the_storage_file(
    bridge: Bridge, account: Account, admin: SandboxAdmin
) -> None:
    admin.traffic(account, 3, spread_seconds=10, seed=3)
    created = bridge.subscribe(account, target_url=TARGET, filters={"verdict": ["spam"]})
    bridge.call("GET", "/v1/subscriptions", account)
    bridge.call("GET", "/v1/samples/new_verdict", account)
    for method, path, options in routes_of(created["id"]):
        bridge.call(method, path, account, **options)
    bridge.call("POST", "/v1/subscriptions", account, json={"event": "x", "target_url": TARGET})
    bridge.call("GET", "/v1/nothing-here", account)
    bridge.call("GET", "/v1/subscriptions", account.token[:-1] + "!")
    bridge.storage.close()  # everything on disk, in the main file and the WAL

    body = account.token.removeprefix("mxg_live_").removeprefix("mxg_test_")
    for answer in bridge.answers:
        assert account.token not in answer.text
        assert body[:12] not in answer.text
        assert all(body[:12] not in value for value in answer.headers.values())
    kept = stored_bytes(bridge.path)  # the file and its WAL, or every row in PostgreSQL
    assert kept
    assert account.token.encode() not in kept
    assert body[:12].encode() not in kept


def test_openapi_document_is_valid_openapi(bridge: Bridge) -> None:
    answer = bridge.call("GET", "/openapi.json")
    assert answer.status_code == 200
    spec = answer.json()
    validate(spec)
    assert spec["info"]["title"] == "MxGuard bridge"
    assert {
        "/v1/subscriptions",
        "/v1/subscriptions/{id}",
        "/v1/subscriptions/{id}/deliveries",
        "/v1/subscriptions/{id}/recover",
        "/v1/samples/{event}",
    } <= set(spec["paths"])
    event = spec["components"]["schemas"]["SubscriptionIn"]["properties"]["event"]
    assert event["enum"] == sorted(TRIGGERS)


def test_swagger_ui_is_served(bridge: Bridge) -> None:
    answer = bridge.call("GET", "/docs")
    assert answer.status_code == 200
    assert "swagger-ui" in answer.text
    assert "/openapi.json" in answer.text
