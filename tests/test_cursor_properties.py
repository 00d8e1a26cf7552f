"""Property tests of the dedupe ``Cursor`` on random streams, against a server held in memory.

The server keeps items with a ``(timestamp, id)`` key, each visible from some time after its
timestamp (late arrival); it pages them in ascending key order with an inclusive ``since`` and a
keyset page cursor, as the sandbox does. ``poll`` drives the cursor exactly as
``triggers.poller.Poller.poll`` does (plan, pages, new_items, record, prune, stop_early or
finish_poll), optionally stopping after ``k`` pages and resuming on the next poll: at its next
page, or from the start when the API, restarted meanwhile, no longer takes that page's cursor.
All time is simulated: no wall clock.

Asserted on every stream:

* every item visible no later than the lateness bound after its timestamp (and not older than
  the floor) is emitted exactly once; no item is emitted twice, however late it became visible;
* nothing older than the floor is emitted;
* within one poll (a resumed one included), emitted items ascend by ``(timestamp, id)``.

The premise of the promise, as ``triggers/cursor.py`` states it: polls come at most a margin
apart and a look-back split over several polls ends within a sweep interval. The generated
schedules keep to it: polls 5 to 30 s apart, a stopped poll resumed up to 3 s later, pages of 2
to 5 items and at least 2 pages a poll for at most 40 items.
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass, field

from hypothesis import given, settings
from hypothesis import strategies as st

from triggers.cursor import Cursor, CursorPolicy, CursorState, PollPlan

S = 1_000_000
"""One second in microseconds."""
POLICY = CursorPolicy()
BOUND = int(POLICY.lateness_bound_s * S)
T0 = 1_750_000_000 * S
"""The simulated clock at the first poll."""
TAIL = 300 * S
"""Polls go on this long after the last item became visible: past the look-back that must find
it (at most a sweep interval, a split look-back and a poll gap later)."""

Key = tuple[int, str]


@dataclass(frozen=True)
class Item:
    timestamp: int
    id: str
    visible_at: int

    @property
    def key(self) -> Key:
        return (self.timestamp, self.id)

    @property
    def on_time(self) -> bool:
        """Visible no later than the lateness bound after its timestamp."""
        return self.visible_at - self.timestamp <= BOUND


class ExpiredPageError(Exception):
    """The API refuses a page cursor (``InvalidRequestError`` in the client)."""


class MemoryApi:
    """The list endpoint: items visible at ``now``, ``timestamp >= since``, ascending by key,
    ``limit`` a page; the page cursor is the key of the last item returned. At each of the
    ``restarts`` (clock times), the API forgets the page cursors it handed out before."""

    def __init__(self, items: list[Item], restarts: tuple[int, ...] = ()) -> None:
        self.items = sorted(items, key=lambda item: item.key)
        self.keys = [item.key for item in self.items]
        self.restarts = restarts

    def page(
        self, since: int, page_cursor: str | None, now: int, limit: int, until: int | None = None
    ) -> tuple[list[Item], str | None]:
        issued, after = _decode(page_cursor)
        if issued is not None and any(issued < t <= now for t in self.restarts):
            raise ExpiredPageError(page_cursor)
        first = (
            bisect.bisect_left(self.keys, (since, ""))
            if after is None or after[0] < since
            else bisect.bisect_right(self.keys, after)
        )
        rows = []
        for item in self.items[first:]:
            if until is not None and item.timestamp >= until:
                break
            if item.visible_at <= now:
                rows.append(item)
                if len(rows) > limit:
                    return rows[:limit], _encode(now, rows[limit - 1].key)
        return rows, None


def _encode(now: int, key: Key) -> str:
    return f"{now}|{key[0]}|{key[1]}"


def _decode(page_cursor: str | None) -> tuple[int | None, Key | None]:
    if page_cursor is None:
        return None, None
    issued, stamp, item_id = page_cursor.split("|", 2)
    return int(issued), (int(stamp), item_id)


@dataclass
class Trigger:
    """One trigger's committed cursor, polled as ``Poller.poll`` polls: ``next_read`` after
    ``next_read``, each page by page, within the budget's allowance and ``max_pages``."""

    api: MemoryApi
    page_size: int
    start_us: int | None
    """None: activation (a priming read, nothing visible before it is emitted)."""
    max_pages: int | None
    budget_per_hour: float = math.inf
    committed: CursorState | None = None
    polls: list[list[Item]] = field(default_factory=list)
    """What each poll emitted, a resumed poll's parts joined into one."""
    requests: list[int] = field(default_factory=list)
    """Clock time of every request made."""
    _resuming: bool = False

    def poll(self, now: int) -> str | None:
        """One poll at ``now``; the reason it stopped early, or None when it was whole."""
        state = self.committed.copy() if self.committed is not None else None
        plan: PollPlan | None = None
        if state is None and self.start_us is None:
            state = CursorState.starting_at(now - POLICY.settle_delay_us)
            plan = PollPlan(state.floor, "prime", now)
        elif state is None:
            state = CursorState.starting_at(self.start_us or now)
        cursor = Cursor(state, POLICY)
        allowance = math.inf if plan else cursor.allowance(now, self.budget_per_hour)
        plan = plan or cursor.next_read(
            now, page_size=self.page_size, budget_per_hour=self.budget_per_hour
        )
        if not self._resuming:
            self.polls.append([])
        emitted = self.polls[-1]
        pages, stopped = 0, None
        while plan is not None and stopped is None:
            if pages >= allowance:
                stopped = "budget"
                break
            page_cursor, items_read = plan.page, 0
            while True:
                try:
                    items, page_cursor = self.api.page(
                        plan.since, page_cursor, now, self.page_size, plan.until
                    )
                except ExpiredPageError:
                    if page_cursor is None or page_cursor != plan.page:
                        raise
                    page_cursor = None  # as the Poller does: start the read over
                    items, page_cursor = self.api.page(
                        plan.since, None, now, self.page_size, plan.until
                    )
                cursor.spend(now)
                self.requests.append(now)
                pages += 1
                items_read += len(items)
                keyed = [(item.timestamp, item.id) for item in items]
                fresh = cursor.new_items(keyed)
                if plan.emits:
                    emitted += [items[i] for i in fresh]
                for i in fresh:
                    cursor.record(*keyed[i])
                if keyed:
                    cursor.read_up_to(plan, keyed[-1][0])
                if page_cursor is None:
                    cursor.finish_read(plan, items_read, now)
                    break
                if fresh and plan.emits:
                    cursor.prune()
                    self._commit(state, cursor)
                if self.max_pages is not None and pages >= self.max_pages:
                    stopped = "max_pages"
                elif pages >= allowance:
                    stopped = "budget"
                if stopped:
                    cursor.stop_early(plan, page_cursor)
                    break
            if stopped is None:
                plan = cursor.next_read(
                    now, page_size=self.page_size, budget_per_hour=self.budget_per_hour
                )
        cursor.finish_poll(now)
        self._commit(state, cursor)
        self._resuming = stopped is not None
        return stopped

    def _commit(self, state: CursorState, cursor: Cursor) -> None:
        cursor.take_changes()
        self.committed = state.copy()

    @property
    def floor(self) -> int:
        assert self.committed is not None
        return self.committed.floor

    def caught_up(self, scenario: Scenario) -> bool:
        """Settled past every item: under a small budget that takes longer than ``TAIL``."""
        assert self.committed is not None
        newest = max((item.timestamp for item in scenario.items), default=T0)
        return Cursor(self.committed, POLICY).settled > newest


@dataclass(frozen=True)
class Scenario:
    items: list[Item]
    backfill_us: int | None
    page_size: int
    max_pages: int | None
    restarts: tuple[int, ...]
    gaps: list[int]
    resume_gap: int


@st.composite
def scenarios(draw: st.DrawFn) -> Scenario:
    # Five-second steps make ties common; some items predate the trigger's start. Seconds late:
    # on time (up to the bound, the bound itself) or later than promised.
    bound_s = BOUND // S
    late_s = st.sampled_from([0, 0, bound_s, bound_s + 1]) | st.integers(0, 3 * bound_s)
    count = draw(st.integers(0, 40))
    item = st.tuples(st.integers(-60, 150), late_s, st.sampled_from("abcdefgh"))
    drawn = draw(st.lists(item, min_size=count, max_size=count))
    items = [
        Item(T0 + step * 5 * S, f"{prefix}{n:02d}", T0 + step * 5 * S + late * S)
        for n, (step, late, prefix) in enumerate(drawn)
    ]
    return Scenario(
        items=items,
        backfill_us=draw(st.sampled_from([None, 0, 0, 100 * S, 400 * S])),
        page_size=draw(st.integers(2, 5)),
        max_pages=draw(st.none() | st.integers(2, 4)),
        restarts=tuple(
            T0 + t * S
            for t in draw(
                st.lists(st.integers(0, 20) | st.integers(0, 900), max_size=2, unique=True)
            )
        ),
        gaps=draw(st.lists(st.integers(5, 30), min_size=1, max_size=4)),
        resume_gap=draw(st.integers(0, 3)),
    )


def run(scenario: Scenario, budget_per_hour: float = math.inf) -> Trigger:
    """Poll from T0 until TAIL after the last item became visible and the last poll was whole."""
    trigger = Trigger(
        MemoryApi(scenario.items, scenario.restarts),
        page_size=scenario.page_size,
        start_us=None if scenario.backfill_us is None else T0 - scenario.backfill_us,
        max_pages=scenario.max_pages,
        budget_per_hour=budget_per_hour,
    )
    end = max((item.visible_at for item in scenario.items), default=T0) + TAIL
    now, number = T0, 0
    while True:
        stopped = trigger.poll(now)
        if stopped is None and now >= end and trigger.caught_up(scenario):
            return trigger
        assert number < 5_000, "the polls never finished"
        gap = scenario.resume_gap if stopped == "max_pages" else None
        now += (scenario.gaps[number % len(scenario.gaps)] if gap is None else gap) * S
        number += 1


def expected(scenario: Scenario, trigger: Trigger) -> set[str]:
    """On time, not older than the floor, and (after an activation) visible after it."""
    return {
        i.id
        for i in scenario.items
        if i.on_time
        and i.timestamp >= trigger.floor
        and (scenario.backfill_us is not None or i.visible_at > T0)
    }


EXAMPLES = settings(max_examples=100, deadline=None, database=None)
"""No example database: nothing written into the work tree."""


@EXAMPLES
@given(scenarios())
def test_every_item_on_time_is_emitted_exactly_once(scenario: Scenario) -> None:
    trigger = run(scenario)
    emitted = [item.id for poll in trigger.polls for item in poll]
    missing = expected(scenario, trigger) - set(emitted)
    assert not missing, f"never emitted: {sorted(missing)}"
    repeated = sorted({item_id for item_id in emitted if emitted.count(item_id) > 1})
    assert not repeated, f"emitted more than once: {repeated}"


@EXAMPLES
@given(scenarios())
def test_nothing_older_than_the_floor_is_emitted(scenario: Scenario) -> None:
    trigger = run(scenario)
    too_old = [item for poll in trigger.polls for item in poll if item.timestamp < trigger.floor]
    assert not too_old


@EXAMPLES
@given(scenarios())
def test_each_poll_emits_in_ascending_timestamp_and_id_order(scenario: Scenario) -> None:
    trigger = run(scenario)
    for poll in trigger.polls:
        keys = [item.key for item in poll]
        assert keys == sorted(keys)
        assert len(set(keys)) == len(keys)


@EXAMPLES
@given(scenarios(), st.sampled_from([60.0, 120.0, 600.0]))
def test_a_budget_is_never_exceeded_and_loses_nothing(scenario: Scenario, budget: float) -> None:
    trigger = run(scenario, budget_per_hour=budget)
    emitted = [item.id for poll in trigger.polls for item in poll]
    assert not expected(scenario, trigger) - set(emitted)
    assert len(emitted) == len(set(emitted))
    times = trigger.requests
    for i, start in enumerate(times):
        in_hour = bisect.bisect_left(times, start + 3600 * S) - i
        assert in_hour <= budget, f"{in_hour} requests in the hour from {start}"
