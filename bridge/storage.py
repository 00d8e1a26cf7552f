"""What the bridge needs from storage, whatever keeps it (SQLite now, PostgreSQL next).

One interface for the three parties that share the data: the subscription API (subscriptions,
scoped to one customer), the pumps (one cursor per token and event, committed together with the
outbox rows of its page), and the delivery worker (what is due, and each attempt).
"""

from __future__ import annotations

from typing import Protocol

from bridge.models import Attempt, Delivery, NewDelivery, Subscription, SubscriptionStatus
from triggers.cursor import CursorState, SeenChanges


class BridgeStorage(Protocol):
    # -- tokens: kept encrypted, because the bridge polls with them ------------------------------
    def put_token(self, customer_id: str, fingerprint: str, token: str) -> None:
        """Keep (or replace) a customer's token, encrypted at rest, under its fingerprint."""
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

    # -- the pumps ---------------------------------------------------------------------------------
    def streams(self) -> list[tuple[str, str]]:
        """(token fingerprint, event) of every stream with a subscription that is not disabled:
        one pump each, whatever the number of subscriptions."""
        ...

    def subscribers(self, fingerprint: str, event: str) -> list[Subscription]:
        """The subscriptions a stream's items are offered to (disabled ones too: their items
        wait in the outbox for ``recover``)."""
        ...

    def load_cursor(self, stream: str) -> CursorState | None: ...

    def commit(
        self,
        stream: str,
        state: CursorState,
        changes: SeenChanges,
        deliveries: list[NewDelivery],
    ) -> None:
        """In one transaction: the stream's cursor and its page's outbox rows. A crash before it
        leaves neither (the page is read again); after it, both."""
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

    def recover(self, customer_id: str, subscription_id: str, since: int) -> int:
        """Make undelivered rows created since ``since`` due now and re-enable the subscription;
        how many rows will be sent again."""
        ...

    def close(self) -> None: ...
