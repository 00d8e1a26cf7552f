"""The pump: one trigger cursor per token and event, its new items fanned out to the outbox.

A pump is the project's own ``Poller`` (the same cursor, budget and guarantees as every trigger),
polling the stream with no filters, whatever the number of subscriptions: requests to MxGuard
follow the traffic, not the subscribers. Each subscriber's filters are applied here.

Nothing is lost at any instant: the ``Poller`` hands a page's new items to the sink and then
commits the cursor; here the sink only holds the items, and the commit writes the cursor and the
page's outbox rows in one transaction (``BridgeStorage.commit``). A crash before that commit
leaves both as they were, and the page is read again; ``webhook_id`` is deterministic, so a row
written twice is one row.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from typing import Any

from pydantic import BaseModel

from api_client import MxGuardClient, MxGuardError
from bridge.models import Lease, NewDelivery, Subscription
from bridge.signing import webhook_id
from bridge.storage import BridgeStorage
from triggers import Poller, PollReport
from triggers.base import TriggerDefinition
from triggers.cursor import CursorState, SeenChanges
from triggers.store import Holds


class CursorResetRefusedError(MxGuardError):
    """A pump's cursor was asked to start over, which would lose or repeat deliveries."""


def stream_key(fingerprint: str, event: str) -> str:
    """The cursor of one token's stream of one event."""
    return f"{event}:{fingerprint}"


def matches(filters: dict[str, Any], item: dict[str, Any]) -> bool:
    """Whether an item passes a subscription's filters, as the API would have filtered it: a
    filter names an item field; a list means "one of these" (empty: all); absent means all."""
    for field, wanted in filters.items():
        if wanted is None or wanted == [] or wanted == "":
            continue
        value = item.get(field)
        if isinstance(wanted, list):
            if value not in wanted:
                return False
        elif value != wanted:
            return False
    return True


class OutboxCursorStore:
    """The pump's ``CursorStore``: each commit also writes the outbox rows of the items the sink
    received since the previous commit, for every subscriber whose filters they pass."""

    def __init__(
        self,
        storage: BridgeStorage,
        *,
        trigger: TriggerDefinition[Any],
        fingerprint: str,
        clock_us: Callable[[], int],
    ) -> None:
        self.storage = storage
        self.trigger = trigger
        self.fingerprint = fingerprint
        self.clock_us = clock_us
        self._pending: list[BaseModel] = []
        self._holds = Holds("another pump holds the stream {key}")
        self.lease: Lease | None = None
        """The token's lease this worker polls under: each commit is refused once it is lost."""

    def sink(self, items: Sequence[BaseModel]) -> None:
        """Hold a page's new items until the commit that follows it writes them."""
        self._pending.extend(items)

    def load(self, key: str) -> CursorState | None:
        return self.storage.load_cursor(key)

    def commit(self, key: str, state: CursorState, changes: SeenChanges) -> None:
        subscribers = self.storage.subscribers(self.fingerprint, self.trigger.key)
        deliveries = self.deliveries(subscribers, self._pending)
        try:
            self.storage.commit(key, state, changes, deliveries, lease=self.lease)
        finally:
            # written, or refused (the page is read again by whoever holds the stream now)
            self._pending.clear()

    def deliveries(
        self, subscribers: list[Subscription], items: Sequence[BaseModel]
    ) -> list[NewDelivery]:
        """One row per item and subscriber whose filters it passes. A subscription gets what
        comes out after it was made: it starts from now, without the stream's past."""
        now = self.clock_us()
        rows = []
        for item in items:
            data = item.model_dump(mode="json")
            timestamp, item_id = self.trigger.item_key(item)
            for subscription in subscribers:
                if subscription.created_at > now or not matches(subscription.filters, data):
                    continue
                rows.append(
                    NewDelivery(
                        subscription_id=subscription.id,
                        webhook_id=webhook_id(subscription.id, item_id),
                        event=self.trigger.key,
                        item=data,
                        timestamp=timestamp,
                        item_id=item_id,
                        created_at=now,
                    )
                )
        return rows

    def exists(self, key: str) -> bool:
        return self.storage.load_cursor(key) is not None

    def forget(self, key: str) -> bool:
        """A pump's cursor is not reset: each subscription starts from its own creation, so a
        pump never needs to start over (the ``CursorStore`` operation exists for the CLI)."""
        raise CursorResetRefusedError(
            f"the stream {key} is not reset; subscriptions start from now"
        )

    def hold(self, key: str) -> AbstractContextManager[None]:
        return self._holds.hold(key)


class Pump:
    """One token's stream of one event, polled with the trigger's cursor into the outbox."""

    def __init__(
        self,
        storage: BridgeStorage,
        *,
        trigger: TriggerDefinition[Any],
        fingerprint: str,
        client: MxGuardClient,
        clock_us: Callable[[], int],
        budget_per_hour: float | None = None,
    ) -> None:
        self.key = stream_key(fingerprint, trigger.key)
        self.store = OutboxCursorStore(
            storage, trigger=trigger, fingerprint=fingerprint, clock_us=clock_us
        )
        self.poller = Poller(
            trigger=trigger,
            client=client,
            filters=trigger.filters(),
            store=self.store,
            key=self.key,
            clock_us=clock_us,
            budget_per_hour=budget_per_hour,
        )

    def poll(self, lease: Lease | None = None) -> PollReport:
        """One poll: new items become outbox rows, committed with the cursor page by page,
        each commit only while ``lease`` is held (``LeaseLostError`` stops the poll)."""
        with self.store.hold(self.key):
            self.store.lease = lease
            return self.poller.poll(self.store.sink)
