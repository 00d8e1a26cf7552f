"""One poll of a trigger: fetch pages in ascending order, emit what is new, commit per page.

The delivery promise (``docs/delivery-guarantees.md``): every item that becomes visible no later
than the lateness bound after its timestamp is emitted once, in ascending (timestamp, id) order
within a poll. The cursor is committed only after a page's new items were handed to the sink and
the sink returned (it flushes), so a crash repeats at most the page in flight: at-least-once,
consumers dedupe by ``id``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

from api_client import InvalidRequestError, MxGuardClient
from api_client.contract import MAX_PAGE_SIZE
from triggers.base import FetchedPage, TriggerDefinition, from_micros
from triggers.cursor import Cursor, CursorPolicy, CursorState
from triggers.store import CursorStore

Sink = Callable[[Sequence[BaseModel]], None]
"""Receives each page's new items; must have delivered them (written, flushed) when it returns."""


@dataclass
class PollReport:
    emitted: int = 0
    pages: int = 0
    complete: bool = False
    """False when the poll stopped before the last page (budget or ``max_pages``)."""
    stopped_because: str | None = None
    swept: bool = False
    first_poll: bool = False


@dataclass
class Poller:
    trigger: TriggerDefinition[Any]
    client: MxGuardClient
    filters: BaseModel
    store: CursorStore
    key: str
    clock_us: Callable[[], int]
    policy: CursorPolicy = field(default_factory=CursorPolicy)
    page_size: int = MAX_PAGE_SIZE
    start_us: int | None = None
    """Backfill: where a trigger without a cursor starts (default: now)."""
    should_stop: Callable[[], str | None] = lambda: None
    """Asked before every page after the first: a reason to stop now, e.g. a low rate budget."""

    def poll(self, sink: Sink, max_pages: int | None = None) -> PollReport:
        now = self.clock_us()
        report = PollReport()
        state = self.store.load(self.key)
        if state is None:
            report.first_poll = True
            state = CursorState.starting_at(self.start_us if self.start_us is not None else now)
        cursor = Cursor(state, self.policy)
        plan = cursor.plan(now)
        report.swept = plan.sweep
        page_cursor = plan.page
        while True:
            try:
                page = self._fetch(plan.since, page_cursor)
            except InvalidRequestError:
                if report.pages or plan.page is None:
                    raise
                page_cursor = None  # the API no longer takes the stored page: start the poll over
                page = self._fetch(plan.since, None)
            report.pages += 1
            keyed = [self.trigger.item_key(item) for item in page.items]
            fresh = cursor.new_items(keyed)
            if fresh:
                sink([page.items[i] for i in fresh])
                for i in fresh:
                    cursor.record(*keyed[i])
                report.emitted += len(fresh)
            page_cursor = page.next_cursor
            if page_cursor is None:
                break
            if fresh:
                cursor.prune()
                self.store.commit(self.key, state, cursor.take_changes())
            reason = "max_pages" if max_pages is not None and report.pages >= max_pages else None
            reason = reason or self.should_stop()
            if reason:
                cursor.stop_early(plan, page_cursor)
                self.store.commit(self.key, state, cursor.take_changes())
                report.stopped_because = reason
                return report
        cursor.finish_poll(plan)
        self.store.commit(self.key, state, cursor.take_changes())
        report.complete = True
        return report

    def _fetch(self, since: int, page_cursor: str | None) -> FetchedPage:
        return self.trigger.fetch(
            self.client,
            filters=self.filters,
            since=from_micros(since),
            cursor=page_cursor,
            limit=self.page_size,
            order="asc",
        )

    def sample(self, limit: int = 3) -> Sequence[BaseModel]:
        """The newest items, newest first, without reading or moving the cursor."""
        page = self.trigger.fetch(
            self.client, filters=self.filters, since=None, cursor=None, limit=limit, order="desc"
        )
        return page.items
