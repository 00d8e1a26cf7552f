"""What the bridge keeps: subscriptions, the deliveries waiting in the outbox, their attempts.

Times are integer microseconds since the epoch, as the cursor keeps them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class SubscriptionStatus(StrEnum):
    active = "active"
    """Deliveries succeed (or none was due yet)."""
    failing = "failing"
    """The last attempt failed; retries are scheduled."""
    disabled = "disabled"
    """Nothing is sent: the target answered 410, or failed for too long. ``recover`` re-enables."""


@dataclass(frozen=True, kw_only=True)
class Subscription:
    id: str
    """``sub_`` and 24 hex digits."""
    customer_id: str
    token_fingerprint: str
    """Which token's pump feeds it (the token itself is kept encrypted, apart)."""
    event: str
    """A trigger key: ``new_verdict``, ``new_quarantined_message``, ``new_domain``."""
    filters: dict[str, Any]
    """The trigger's filters, validated, as JSON."""
    target_url: str
    secret: str
    """``whsec_`` and base64: what the receiver verifies signatures with."""
    description: str = ""
    created_at: int
    status: SubscriptionStatus = SubscriptionStatus.active
    failing_since: int | None = None
    """When the oldest undelivered attempt of a failing subscription first failed."""


@dataclass(frozen=True, kw_only=True)
class NewDelivery:
    """An item for one subscriber, written to the outbox with the cursor commit of its page."""

    subscription_id: str
    webhook_id: str
    """Deterministic (subscription and item): the same on every retry and re-poll."""
    event: str
    item: dict[str, Any]
    timestamp: int
    """The item's own timestamp (µs): deliveries of a subscription go out in (timestamp, id)
    order."""
    item_id: str
    created_at: int


@dataclass(frozen=True, kw_only=True)
class Delivery(NewDelivery):
    """An outbox row."""

    id: int
    attempts: int = 0
    next_attempt_at: int
    delivered_at: int | None = None


@dataclass(frozen=True, kw_only=True)
class Attempt:
    delivery_id: int
    subscription_id: str
    at: int
    status_code: int | None
    """None: no answer (refused, timed out, a target the rules refuse)."""
    latency_ms: float
    excerpt: str = ""
    """The start of the answer's body, or the error: bounded (``EXCERPT_LIMIT``)."""
    next_attempt_at: int | None = None
    """When it is tried again; None: delivered, or given up."""
    extra: dict[str, Any] = field(default_factory=dict)


EXCERPT_LIMIT = 500
"""Characters of a target's answer kept with an attempt."""


@dataclass(frozen=True, kw_only=True)
class Lease:
    """The right to do one piece of work alone (poll a token's streams) until it expires.

    ``fence`` grows each time another holder takes the lease over: a write that carries an older
    fence comes from a holder that lost the lease (paused past its expiry) and is refused.
    """

    name: str
    holder: str
    fence: int


@dataclass(frozen=True, kw_only=True)
class StoredToken:
    """A token the bridge keeps (sealed) and polls with, as listings show it: never the token."""

    fingerprint: str
    customer_id: str
    label: str
    added_by: str
    """``subscription`` (it arrived with an API call) or ``operator`` (``bridge tokens add``)."""
    subscriptions: int


@dataclass(frozen=True, kw_only=True)
class StreamReport:
    """What the last poll of a stream found, kept by the worker that polled it, so that whoever
    watches the bridge (the console) sees the policy in force without polling MxGuard itself."""

    stream: str
    fingerprint: str
    event: str
    at: int
    """When the poll ended (µs)."""
    mode: str | None = None
    """``live`` or ``batch`` (``triggers/cursor.py``); None when the poll failed."""
    budget_per_hour: float = 0.0
    needed_per_hour: float = 0.0
    """What the measured traffic needs in the chosen mode; above the budget, it falls behind."""
    behind_per_hour_s: float = 0.0
    complete: bool = True
    """False when the poll stopped before the newest page (budget)."""
    error: str | None = None
    """Why the stream could not be polled; None when it was."""


@dataclass(frozen=True, kw_only=True)
class BudgetReport:
    """A token's rate budget after its last round: what this bridge counted, and what MxGuard
    said in its ``X-RateLimit-*`` headers (which count every caller of the token)."""

    fingerprint: str
    at: int
    per_minute: int
    per_hour: int
    minute_remaining: int
    hour_remaining: int
    server_limit: int | None = None
    """``X-RateLimit-Limit`` of the last answer: the window that binds (60 or 600)."""
    server_remaining: int | None = None
    server_reset: int | None = None
    """Unix seconds when that window frees a request."""
