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
from dataclasses import dataclass, field

from hypothesis import given, settings
from hypothesis import strategies as st

from triggers.cursor import Cursor, CursorPolicy, CursorState

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
        self, since: int, page_cursor: str | None, now: int, limit: int
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
    """One trigger's committed cursor, polled as ``Poller.poll`` polls."""

    api: MemoryApi
    page_size: int
    start_us: int
    max_pages: int | None
    committed: CursorState | None = None
    polls: list[list[Item]] = field(default_factory=list)
    """What each poll emitted, a resumed poll's parts joined into one."""
    _resuming: bool = False

    def poll(self, now: int) -> bool:
        """One poll at ``now``; True when it read up to the last page."""
        state = self.committed.copy() if self.committed is not None else None
        if state is None:
            state = CursorState.starting_at(self.start_us)
        cursor = Cursor(state, POLICY)
        plan = cursor.plan(now)
        if not self._resuming:
            self.polls.append([])
        emitted = self.polls[-1]
        page_cursor = plan.page
        pages = 0
        while True:
            try:
                items, page_cursor = self.api.page(plan.since, page_cursor, now, self.page_size)
            except ExpiredPageError:
                if page_cursor is None or page_cursor != plan.page:
                    raise
                page_cursor = None  # as the Poller does: start the poll over
                items, page_cursor = self.api.page(plan.since, None, now, self.page_size)
            pages += 1
            keyed = [(item.timestamp, item.id) for item in items]
            fresh = cursor.new_items(keyed)
            emitted += [items[i] for i in fresh]
            for i in fresh:
                cursor.record(*keyed[i])
            if page_cursor is None:
                break
            if fresh:
                cursor.prune()
                self._commit(state, cursor)
            if self.max_pages is not None and pages >= self.max_pages:
                cursor.stop_early(plan, page_cursor)
                self._commit(state, cursor)
                self._resuming = True
                return False
        cursor.finish_poll(plan)
        self._commit(state, cursor)
        self._resuming = False
        return True

    def _commit(self, state: CursorState, cursor: Cursor) -> None:
        cursor.take_changes()
        self.committed = state.copy()

    @property
    def floor(self) -> int:
        assert self.committed is not None
        return self.committed.floor


@dataclass(frozen=True)
class Scenario:
    items: list[Item]
    backfill_us: int
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
        backfill_us=draw(st.sampled_from([0, 0, 100 * S, 400 * S])),
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


def run(scenario: Scenario) -> Trigger:
    """Poll from T0 until TAIL after the last item became visible and the last poll was whole."""
    trigger = Trigger(
        MemoryApi(scenario.items, scenario.restarts),
        page_size=scenario.page_size,
        start_us=T0 - scenario.backfill_us,
        max_pages=scenario.max_pages,
    )
    end = max((item.visible_at for item in scenario.items), default=T0) + TAIL
    now, number = T0, 0
    while True:
        complete = trigger.poll(now)
        if complete and now >= end:
            return trigger
        assert number < 2_000, "the polls never finished"
        now += (scenario.gaps[number % len(scenario.gaps)] if complete else scenario.resume_gap) * S
        number += 1


EXAMPLES = settings(max_examples=100, deadline=None, database=None)
"""No example database: nothing written into the work tree."""


@EXAMPLES
@given(scenarios())
def test_every_item_on_time_is_emitted_exactly_once(scenario: Scenario) -> None:
    trigger = run(scenario)
    emitted = [item.id for poll in trigger.polls for item in poll]
    expected = {i.id for i in scenario.items if i.on_time and i.timestamp >= trigger.floor}
    missing = expected - set(emitted)
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
