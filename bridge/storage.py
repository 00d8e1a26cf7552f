"""What the bridge needs from storage, whatever keeps it (SQLite now, PostgreSQL next).

One interface for the three parties that share the data: the subscription API (subscriptions,
scoped to one customer), the pumps (one cursor per token and event, committed together with the
outbox rows of its page), and the delivery worker (what is due, and each attempt).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from api_client.errors import MxGuardError
from bridge.models import (
    Attempt,
    BudgetReport,
    Delivery,
    Lease,
    NewDelivery,
    StoredToken,
    StreamReport,
    Subscription,
    SubscriptionStatus,
)
from triggers.cursor import CursorState, SeenChanges

OPERATOR = "operator"
SUBSCRIPTION = "subscription"
"""Who added a token: ``bridge tokens add``, or an API call that carried it."""


class BridgeStorageError(MxGuardError):
    """The bridge's storage cannot be used or written; the message says where (a file's path,
    a database without its password) and the cause."""


class LeaseLostError(MxGuardError):
    """A write under a lease that is no longer held (expired, or taken over since): refused, so a
    worker paused past its lease cannot overwrite what the new holder did."""


class BridgeStorage(Protocol):
    @property
    def location(self) -> str:
        """Where the data lives, for messages: a path, or a database URL without password."""
        ...

    # -- tokens: kept encrypted, because the bridge polls with them ------------------------------
    def put_token(
        self,
        customer_id: str,
        fingerprint: str,
        token: str,
        *,
        label: str = "",
        added_by: str = SUBSCRIPTION,
    ) -> None:
        """Keep (or replace) a customer's token, encrypted at rest, under its fingerprint. An
        operator's label and ``added_by`` survive a later call that only carries the token."""
        ...

    def tokens(self, customer_id: str | None = None) -> list[StoredToken]:
        """Every token kept (or the customer's), without the tokens themselves, by
        fingerprint."""
        ...

    def remove_token(self, fingerprint: str) -> int | None:
        """Forget a token and its subscriptions (and their undelivered rows); how many
        subscriptions went with it, None when no such token is kept."""
        ...

    def token(self, fingerprint: str) -> str | None:
        """The token with this fingerprint, decrypted; None when unknown."""
        ...

    # -- subscriptions, always within one customer -----------------------------------------------
    def add_subscription(self, subscription: Subscription) -> None: ...

    def subscriptions(
        self, customer_id: str, *, target_url: str | None = None
    ) -> list[Subscription]:
        """The customer's subscriptions, oldest first (only those to ``target_url`` if given)."""
        ...

    def subscription(self, customer_id: str, subscription_id: str) -> Subscription | None:
        """One subscription of this customer; None for another customer's, as for none."""
        ...

    def subscription_for_delivery(self, subscription_id: str) -> Subscription | None:
        """A subscription by id alone, whichever customer's: for the delivery worker, which
        holds an outbox row, never for an answer of the API."""
        ...

    def remove_subscription(self, customer_id: str, subscription_id: str) -> bool:
        """Drop it and its undelivered outbox rows; False when the customer has no such one."""
        ...

    def set_status(
        self, subscription_id: str, status: SubscriptionStatus, failing_since: int | None
    ) -> None: ...

    # -- leases: one worker at a time per token -------------------------------------------------
    def acquire_lease(self, name: str, holder: str, ttl_s: float) -> Lease | None:
        """Take or renew the lease ``name`` for ``ttl_s`` seconds of the storage's clock; None
        while another holder's lease runs. A takeover moves the fence on."""
        ...

    def release_lease(self, lease: Lease) -> None:
        """Give the lease up early (a worker stopping), if it is still this one."""
        ...

    def live_leases(self, prefix: str) -> list[Lease]:
        """The leases whose name starts with ``prefix`` and that have not expired (e.g. the
        workers' own ``worker:`` leases, to count who shares the work)."""
        ...

    # -- the pumps ---------------------------------------------------------------------------------
    def streams(self) -> list[tuple[str, str]]:
        """(token fingerprint, event) of every stream with a subscription that is not disabled:
        one pump each, whatever the number of subscriptions."""
        ...

    def subscribers(self, fingerprint: str, event: str) -> list[Subscription]:
        """The subscriptions a stream's items are offered to (disabled ones too: their items
        wait in the outbox for ``recover``)."""
        ...

    def load_cursor(self, stream: str, *, with_seen: bool = True) -> CursorState | None:
        """The stream's cursor; ``with_seen=False`` leaves ``seen`` empty, for a reader that
        only looks (the console): those ids can be thousands, and only a poll needs them."""
        ...

    def commit(
        self,
        stream: str,
        state: CursorState,
        changes: SeenChanges,
        deliveries: list[NewDelivery],
        lease: Lease | None = None,
    ) -> None:
        """In one transaction: the stream's cursor and its page's outbox rows. A crash before it
        leaves neither (the page is read again); after it, both. Under ``lease``, only while it
        is still held with that fence (``LeaseLostError`` otherwise, and nothing is written)."""
        ...

    # -- the delivery worker ---------------------------------------------------------------------
    def due(self, now: int, limit: int) -> list[Delivery]:
        """Undelivered rows whose next attempt is due, of subscriptions that are not disabled,
        oldest (timestamp, id) first within each subscription."""
        ...

    def record_attempt(self, attempt: Attempt, *, delivered: bool) -> None:
        """Keep the attempt; mark the row delivered, or schedule it for ``next_attempt_at``."""
        ...

    def attempts(self, customer_id: str, subscription_id: str, limit: int) -> list[Attempt]:
        """The subscription's attempts, newest first."""
        ...

    def recent_attempts(self, customer_id: str, limit: int) -> list[Attempt]:
        """The customer's attempts across its subscriptions, newest first."""
        ...

    def recover(self, customer_id: str, subscription_id: str, since: int) -> int:
        """Make undelivered rows created since ``since`` due now and re-enable the subscription;
        how many rows will be sent again."""
        ...

    def record_reports(self, streams: Sequence[StreamReport], budget: BudgetReport | None) -> None:
        """Keep a round's reports of a token's streams and its budget, replacing the ones
        before, in one write."""
        ...

    def stream_reports(self, fingerprint: str) -> list[StreamReport]:
        """The last report of each of the token's streams, by stream key."""
        ...

    def budget_report(self, fingerprint: str) -> BudgetReport | None: ...

    def close(self) -> None: ...
