"""Standard Webhooks signatures: secrets, deterministic webhook ids, bodies, headers, checks.

Every delivery is signed as the Standard Webhooks spec says, with the ``standardwebhooks``
package (so receivers can verify with any of its libraries): HMAC-SHA256 over
``{webhook-id}.{webhook-timestamp}.{body}``, sent as ``webhook-signature: v1,<base64>``.

* The **webhook id** depends only on the subscription and the item, so every retry and every
  re-poll of the same item carries the same id, and receivers dedupe on it.
* The **timestamp** is the attempt's, so each attempt is signed again; receivers refuse old
  timestamps, which is what stops a captured request from being replayed later.
* The **body** is compact JSON, and the exact string signed is the one sent: a receiver that
  re-serialises the JSON before verifying would not match.

Secrets are never put in a message, a repr or a log line: errors say what is wrong with a
secret, never what it is.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import math
import secrets
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from standardwebhooks.webhooks import EmptyWebhookSecretError, Webhook

from api_client.errors import MxGuardError

SECRET_PREFIX = "whsec_"
SECRET_BYTES = 32
"""Random bytes in a new secret: the spec asks for at least 24 (192 bits)."""
MIN_SECRET_BYTES = 24
WEBHOOK_ID_HEX = 32
"""Hex digits of SHA-256 kept in a webhook id: 128 bits, no collision in any real outbox."""
DEFAULT_TOLERANCE_S = 300
"""How far a ``webhook-timestamp`` may be from the receiver's clock (the spec's 5 minutes)."""

ID_HEADER = "webhook-id"
TIMESTAMP_HEADER = "webhook-timestamp"
SIGNATURE_HEADER = "webhook-signature"
EVENT_FIELD, TIME_FIELD, ITEM_FIELD = "type", "timestamp", "data"
"""The delivered body's fields: the event, when the item happened, the item."""

_ID_DOMAIN = "mxguard-bridge/webhook-id/v1"
"""Hashed in front of the parts, so these ids never coincide with another use of SHA-256."""


class SignatureError(MxGuardError):
    """A webhook whose signature cannot be trusted, or a secret that cannot sign.

    ``reason`` is one word for code to branch on: ``missing_header``, ``bad_timestamp``,
    ``too_old``, ``too_new``, ``no_match``, ``bad_body``, ``bad_secret``. The message is for people
    and never holds the secret nor the signature that would have matched (that would make the
    receiver a signing oracle).
    """

    def __init__(self, message: str, *, reason: str) -> None:
        super().__init__(message, error_type="invalid_signature")
        self.reason = reason

    def _fields(self) -> dict[str, Any]:
        return {**super()._fields(), "reason": self.reason}


def new_secret(randbytes: Callable[[int], bytes] = secrets.token_bytes) -> str:
    """A fresh signing secret: ``whsec_`` and the base64 of ``SECRET_BYTES`` random bytes.

    ``randbytes`` is injectable so tests get a known secret; it must give at least 24 bytes.
    """
    raw = randbytes(SECRET_BYTES)
    if len(raw) < MIN_SECRET_BYTES:
        raise ValueError(f"a secret needs at least {MIN_SECRET_BYTES} random bytes, got {len(raw)}")
    return SECRET_PREFIX + base64.b64encode(raw).decode("ascii")


def webhook_id(subscription_id: str, item_id: str) -> str:
    """``msg_`` and a hex SHA-256 prefix of the subscription and the item.

    Deterministic, so a retry or a re-poll of the item repeats the id and receivers can dedupe.
    The parts are joined as a JSON array, so no two pairs give the same text (``"a:b", "c"`` and
    ``"a", "b:c"`` differ). Hex has no ``.``, which the spec forbids in ids (it separates the
    signed parts).
    """
    joined = json.dumps([_ID_DOMAIN, subscription_id, item_id], ensure_ascii=True)
    return "msg_" + hashlib.sha256(joined.encode("utf-8")).hexdigest()[:WEBHOOK_ID_HEX]


def body(event: str, timestamp: datetime, item: Mapping[str, Any]) -> str:
    """The delivered body: ``{"type", "timestamp", "data"}`` as compact JSON.

    ``timestamp`` is the item's (when the event happened, the same on every attempt), in RFC 3339
    UTC with ``Z``. ASCII-only JSON, so the bytes signed and sent are the same whatever encoding a
    receiver assumes; NaN and infinities are refused, since they are not JSON.
    """
    payload = {EVENT_FIELD: event, TIME_FIELD: rfc3339(timestamp), ITEM_FIELD: dict(item)}
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=True, allow_nan=False)


def rfc3339(moment: datetime) -> str:
    """``moment`` in UTC as ``YYYY-MM-DDTHH:MM:SS.ffffffZ`` (as the API writes its times)."""
    utc = _utc(moment, "timestamp")
    return utc.replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def signed_headers(secret: str, webhook_id: str, timestamp: datetime, body: str) -> dict[str, str]:
    """The headers of one attempt: ``webhook-id``, ``-timestamp``, ``-signature``, content type.

    ``timestamp`` is the attempt's (whole seconds are sent and signed); call this again for every
    attempt. Raises ``SignatureError`` (reason ``bad_secret``) for a secret that is not
    ``whsec_`` + base64, and ``ValueError`` for an id with a ``.`` or a naive timestamp.
    """
    if not webhook_id or "." in webhook_id or any(c.isspace() for c in webhook_id):
        raise ValueError("a webhook id must be non-empty, without '.' or spaces")
    # The package reads the time with ``replace(tzinfo=UTC)``: give it UTC, or an aware time in
    # another zone would be signed hours off.
    utc = _utc(timestamp, "timestamp")
    signature = _webhook(secret).sign(webhook_id, utc, body)
    return {
        ID_HEADER: webhook_id,
        TIMESTAMP_HEADER: str(math.floor(utc.timestamp())),
        SIGNATURE_HEADER: signature,
        "content-type": "application/json",
    }


def verify(
    secret: str,
    body: str | bytes,
    headers: Mapping[str, str],
    *,
    now: datetime | None = None,
    tolerance_s: int = DEFAULT_TOLERANCE_S,
) -> dict[str, Any]:
    """Check a received webhook and return its parsed body (for receivers written in Python).

    The same checks as ``standardwebhooks.Webhook.verify``, with the clock injectable (``now``;
    the wall clock when None) and one typed error, ``SignatureError``, whose ``reason`` says which
    check failed. Header names are case-insensitive; several space-separated signatures are
    accepted (secret rotation) and any matching ``v1`` one passes, compared in constant time.
    """
    text = body.decode("utf-8") if isinstance(body, bytes) else body
    lowered = {name.lower(): value for name, value in headers.items()}
    msg_id, stamp, signatures = (
        lowered.get(name, "").strip() for name in (ID_HEADER, TIMESTAMP_HEADER, SIGNATURE_HEADER)
    )
    missing = [
        name
        for name, value in (
            (ID_HEADER, msg_id),
            (TIMESTAMP_HEADER, stamp),
            (SIGNATURE_HEADER, signatures),
        )
        if not value
    ]
    if missing:
        raise SignatureError(f"missing header(s): {', '.join(missing)}", reason="missing_header")
    if not stamp.isascii() or not stamp.isdigit() or len(stamp) > 12:
        raise SignatureError(
            "webhook-timestamp is not an integer number of seconds", reason="bad_timestamp"
        )
    sent_at = int(stamp)
    current = math.floor((_wall_clock() if now is None else _utc(now, "now")).timestamp())
    if sent_at < current - tolerance_s:
        raise SignatureError(
            f"webhook-timestamp is {current - sent_at} s old, more than the {tolerance_s} s "
            "tolerance (a replay, or a clock far off)",
            reason="too_old",
        )
    if sent_at > current + tolerance_s:
        raise SignatureError(
            f"webhook-timestamp is {sent_at - current} s in the future, more than the "
            f"{tolerance_s} s tolerance (a clock far off)",
            reason="too_new",
        )
    signed = _webhook(secret).sign(msg_id, datetime.fromtimestamp(sent_at, UTC), text)
    expected = base64.b64decode(signed.partition(",")[2])
    if not any(
        hmac.compare_digest(expected, given)
        for given in (_v1_bytes(part) for part in signatures.split())
        if given is not None
    ):
        raise SignatureError(
            "no v1 signature matches: the body, id or timestamp was altered, or the secret differs",
            reason="no_match",
        )
    try:
        parsed = json.loads(text)
    except ValueError:
        raise SignatureError("the signed body is not JSON", reason="bad_body") from None
    if not isinstance(parsed, dict):
        raise SignatureError("the signed body is not a JSON object", reason="bad_body")
    return parsed


def _v1_bytes(versioned: str) -> bytes | None:
    """The raw bytes of a ``v1,<base64>`` signature; None for another version or bad base64."""
    version, _, encoded = versioned.partition(",")
    if version != "v1" or not encoded:
        return None
    try:
        return base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        return None


def _webhook(secret: str) -> Webhook:
    """The package's signer for ``secret``; a typed error that never quotes the secret."""
    if not secret.startswith(SECRET_PREFIX):
        raise SignatureError(
            f"the secret does not start with {SECRET_PREFIX!r}", reason="bad_secret"
        )
    try:
        raw = base64.b64decode(secret[len(SECRET_PREFIX) :], validate=True)
    except (binascii.Error, ValueError):
        raise SignatureError("the secret is not valid base64", reason="bad_secret") from None
    if len(raw) < MIN_SECRET_BYTES:
        raise SignatureError(
            f"the secret has {len(raw)} bytes; at least {MIN_SECRET_BYTES} are needed",
            reason="bad_secret",
        )
    try:
        return Webhook(raw)
    except EmptyWebhookSecretError:  # pragma: no cover - excluded by the length check
        raise SignatureError("the secret is empty", reason="bad_secret") from None


def _utc(moment: datetime, name: str) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name}: a naive datetime is ambiguous; give it a time zone")
    return moment.astimezone(UTC)


def _wall_clock() -> datetime:
    """The receiver's clock when ``verify`` is given none (tests always give one)."""
    return datetime.now(UTC)
