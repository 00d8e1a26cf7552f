"""One poll of a trigger: fetch pages in ascending order, emit what is new, commit per page.

The delivery promise (``docs/delivery-guarantees.md``): every item that becomes visible no later
than the lateness bound after its timestamp is emitted once, in ascending (timestamp, id) order
within a poll. The cursor is committed only after a page's new items were handed to the sink and
the sink returned (it flushes), so a crash repeats at most the page in flight: at-least-once,
consumers dedupe by ``id``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

from api_client import InvalidRequestError, MxGuardClient
from api_client.contract import MAX_PAGE_SIZE, MICROS
from triggers.base import FetchedPage, TriggerDefinition, from_micros
from triggers.cursor import Cursor, CursorPolicy, CursorState, Mode, PollPlan, ReadKind
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
    """It read settled time again (for late items)."""
    first_poll: bool = False
    reads: list[ReadKind] = field(default_factory=list)
    """The reads it made, in order (``fresh``, ``settle``, ``sweep``, ``prime``)."""
    mode: Mode = "live"
    budget_per_hour: float = 0.0
    needed_per_hour: float = 0.0
    """What the measured traffic needs in the chosen mode; above the budget, it falls behind."""
    behind_per_hour_s: float = 0.0
    """Seconds of traffic the trigger falls further behind each hour at this rate and budget."""
    budget_frees_in_s: float = 0.0
    """When it stopped for the budget: seconds until the hour's budget allows a request."""


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
    """Backfill: where a trigger without a cursor starts (default: now, after priming)."""
    should_stop: Callable[[], str | None] = lambda: None
    """Asked before every page after the first: a reason to stop now, e.g. a low rate budget."""
    budget_per_hour: float | None = None
    """This trigger's share of the token's hourly requests; None: ``default_budget``."""

    @property
    def budget(self) -> float:
        if self.budget_per_hour is not None:
            return self.budget_per_hour
        return default_budget(self.client.rate_budget.hourly_limit)

    def poll(self, sink: Sink, max_pages: int | None = None) -> PollReport:
        """Make this poll's reads (``Cursor.next_read``), within the budget and ``max_pages``."""
        now = self.clock_us()
        report = PollReport(budget_per_hour=self.budget)
        state = self.store.load(self.key)
        prime: PollPlan | None = None
        if state is None:
            report.first_poll = True
            if self.start_us is None:
                state = CursorState.starting_at(now - self.policy.settle_delay_us)
                prime = PollPlan(state.floor, "prime", now)
            else:
                state = CursorState.starting_at(self.start_us)
        cursor = Cursor(state, self.policy)
        traffic = cursor.traffic(now, self.page_size, report.budget_per_hour)
        report.mode = traffic.mode(self.policy)
        report.needed_per_hour = (
            traffic.live_cost_per_hour(self.policy)
            if report.mode == "live"
            else traffic.batch_cost_per_hour()
        )
        report.behind_per_hour_s = traffic.behind_per_hour_s() if report.mode == "batch" else 0.0
        allowance = math.inf if prime else cursor.allowance(now, report.budget_per_hour)
        plan = prime or cursor.next_read(
            now, page_size=self.page_size, budget_per_hour=report.budget_per_hour
        )
        while plan is not None:
            if report.pages >= allowance:
                report.stopped_because = "budget"
                break
            report.reads.append(plan.kind)
            report.swept = report.swept or plan.kind in ("sweep", "settle")
            stopped = self._read(plan, cursor, sink, report, max_pages, allowance)
            if stopped:
                break
            plan = cursor.next_read(
                self.clock_us(), page_size=self.page_size, budget_per_hour=report.budget_per_hour
            )
        cursor.finish_poll(now)
        report.complete = report.stopped_because is None
        if report.stopped_because == "budget":
            frees = cursor.budget_frees_in(self.clock_us(), report.budget_per_hour)
            report.budget_frees_in_s = frees / MICROS
        self.store.commit(self.key, state, cursor.take_changes())
        return report

    def _read(
        self,
        plan: PollPlan,
        cursor: Cursor,
        sink: Sink,
        report: PollReport,
        max_pages: int | None,
        allowance: float,
    ) -> bool:
        """One read, page after page; True when it stopped before its last page."""
        state, page_cursor, items_read = cursor.state, plan.page, 0
        while True:
            try:
                page = self._fetch(plan, page_cursor)
            except InvalidRequestError:
                if page_cursor is None or page_cursor != plan.page:
                    raise
                page_cursor = None  # the API no longer takes the stored page: start the read over
                page = self._fetch(plan, None)
            cursor.spend(self.clock_us())
            report.pages += 1
            items_read += len(page.items)
            keyed = [self.trigger.item_key(item) for item in page.items]
            fresh = cursor.new_items(keyed)
            if fresh and plan.emits:
                sink([page.items[i] for i in fresh])
                report.emitted += len(fresh)
            for i in fresh:
                cursor.record(*keyed[i])
            if keyed:
                cursor.read_up_to(plan, keyed[-1][0])
            page_cursor = page.next_cursor
            if page_cursor is None:
                cursor.finish_read(plan, items_read, self.clock_us())
                return False
            if fresh and plan.emits:
                cursor.prune()
                self.store.commit(self.key, state, cursor.take_changes())
            reason = "max_pages" if max_pages is not None and report.pages >= max_pages else None
            if reason is None and report.pages >= allowance:
                reason = "budget"
            if reason is None and plan.emits:
                reason = self.should_stop()
            if reason:
                cursor.stop_early(plan, page_cursor)
                report.stopped_because = reason
                return True

    def _fetch(self, plan: PollPlan, page_cursor: str | None) -> FetchedPage:
        return self.trigger.fetch(
            self.client,
            filters=self.filters,
            since=from_micros(plan.since),
            until=from_micros(plan.until) if plan.until is not None else None,
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


ACTION_RESERVE = 1 / 6
"""The share of a token's hourly requests a trigger leaves for actions and other work by default."""


def default_budget(per_hour: int) -> float:
    """A trigger's default budget: the token's hourly limit less ``ACTION_RESERVE`` (500 of 600)."""
    return per_hour * (1 - ACTION_RESERVE)
