"""The dedupe cursor: which reads a poll makes, which items it emits, how the cursor moves.

Items are ordered by ``(timestamp, id)``; an item becomes visible at most ``lateness_bound``
after its timestamp. The cursor keeps

* ``watermark``: the newest timestamp emitted (or where the trigger started);
* ``last_sweep``: when the last complete read of *settled* time began. Everything with a
  timestamp before ``settled = last_sweep - settle_delay`` has been read while visible, so no
  read ever goes back further (``settle_delay = lateness_bound + skew margin``);
* ``seen``: the ids emitted at or after ``settled`` (only those can be read again);
* where a read that stopped part-way got to (``resume_*``), the traffic it measured (``rate``),
  when it last polled, and what it spent in the last hour (``spent``).

**Why the look-back starts at ``settled``.** A read that begins at clock time ``B`` and reaches
its last page sees every item visible at ``B`` from its ``since`` on. An item it missed became
visible after ``B``, so its timestamp is after ``B - lateness_bound``. The next read for late
items therefore starts at ``B - lateness_bound - margin``, never earlier. The margin (5 s)
covers the difference between this machine's clock and MxGuard's: both keep NTP time, within
well under a second of each other; a clock that is ``δ`` ahead makes ``B`` ``δ`` too late, so
the margin is what may be off, and each second of it costs one second of traffic re-read per
look-back.

**Four reads** a poll may make (``PollPlan.kind``):

* ``fresh``: from the watermark (less a few seconds) to now: on-time items come out at once;
* ``settle``: settled time only, ``[settled, B - settle_delay)``, with ``until``: each item read
  once more, for the late ones (no re-read of the last ``settle_delay`` seconds);
* ``sweep``: ``settle`` and ``fresh`` in one read, ``[settled, now]``: cheaper when the window
  fits in the pages a fresh read costs anyway (low volume: then every poll sweeps, for free);
* ``prime``: at activation, ``[now - settle_delay, now]`` read without emitting, so an item
  stamped before activation that becomes visible after it still comes out (no blind spot).

**The policy** (``docs/delivery-guarantees.md`` has the formula and its table): with ``r`` items a
second, polls every ``I`` s, pages of ``P`` and a budget of ``H`` requests an hour, *live* mode
reads fresh every poll and settled time every ``sweep_interval`` (whichever of sweep or
settle+fresh is cheaper); when live mode would need more than ``H``, *batch* mode stops fresh reads
and settles every poll: each item is read once, ``settle_delay`` plus one poll after its
timestamp. A read stopped by the budget resumes at its next page, never at its start.

All times are integer microseconds since the epoch; the class is pure (no I/O, no clock).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Literal

from api_client.contract import LATENESS_BOUND_S, MAX_PAGE_SIZE, MICROS

DEFAULT_SWEEP_INTERVAL_S = 120.0
"""Live mode: settled time is read again this often (late items' worst delay grows with it)."""
SKEW_MARGIN_S = 5.0
"""Allowance for this machine's clock running ahead of MxGuard's (see the module docstring)."""
FRESH_OVERLAP_S = 5.0
"""A fresh read starts this far before the watermark. Most items become visible within a second
or two of their timestamp, some of them after a newer one was read; starting a little earlier
brings those out on the next poll instead of at the next read of settled time, for a few items
more a read (5 s of traffic)."""
DEFAULT_POLL_INTERVAL_S = 60.0
"""Assumed until two polls have shown the real interval."""
MIN_POLL_INTERVAL_S = 10.0
"""Polls closer than this (a person running one poll after another) are planned as this far
apart: planning for their gap would take a few seconds for the cadence and switch to batch mode,
while the budget's allowance caps what they spend anyway."""
RATE_WEIGHT = 0.2
"""Weight of the newest measurement in the traffic estimate: low, so that one burst does not
switch the plan to batch mode for the polls after it."""
RATE_STEP = 2.0
"""One measurement moves the estimate towards at most this many times the estimate."""
PAGE_FILL = 0.9
"""A settle read plans for pages this full: the traffic varies, and a page's worth planned at
exactly ``page_size`` items overflows into a second request about half the time."""
BURST_FACTOR = 2
"""One poll may spend this many times its average share of the hourly budget (to catch up)."""
MINUTE_US = 60 * MICROS
HOUR_US = 60 * MINUTE_US

ReadKind = Literal["fresh", "settle", "sweep", "prime"]
Mode = Literal["live", "batch"]


@dataclass(frozen=True)
class CursorPolicy:
    lateness_bound_s: float = LATENESS_BOUND_S
    sweep_interval_s: float = DEFAULT_SWEEP_INTERVAL_S
    skew_margin_s: float = SKEW_MARGIN_S

    @property
    def settle_delay_us(self) -> int:
        """How long after its timestamp an item is surely visible (on MxGuard's clock too)."""
        return int((self.lateness_bound_s + self.skew_margin_s) * MICROS)

    @property
    def sweep_interval_us(self) -> int:
        return int(self.sweep_interval_s * MICROS)


@dataclass
class CursorState:
    floor: int
    """Where the trigger started: nothing older is ever emitted."""
    watermark: int
    """Newest timestamp emitted, or ``floor`` before the first item."""
    seen: dict[str, int] = field(default_factory=dict)
    """id -> timestamp of the items emitted at or after ``settled``."""
    last_sweep: int | None = None
    """Clock time (µs) when the last complete read of settled time began; None: never."""
    resume_since: int | None = None
    """``since`` of a read that stopped part-way; None: none pending."""
    resume_page: str | None = None
    """The API's cursor of that read's next page."""
    sweep_started: int | None = None
    """Clock time (µs) when that read began, when it reads settled time; None: a fresh read."""
    resume_until: int | None = None
    """``until`` of that read, when it is a settle read."""
    rate: float = 0.0
    """Items a second, as measured by complete reads (a weighted running estimate)."""
    last_poll: int | None = None
    """Clock time (µs) of the last poll: the interval between polls is measured, not assumed."""
    spent: dict[int, int] = field(default_factory=dict)
    """Minute (clock µs // 60 s) -> requests this trigger made in it, for the last hour."""

    @classmethod
    def starting_at(cls, start: int) -> CursorState:
        return cls(floor=start, watermark=start)

    def copy(self) -> CursorState:
        """An independent copy (``seen`` and ``spent`` included), as a store hands out and keeps."""
        return replace(self, seen=dict(self.seen), spent=dict(self.spent))


@dataclass
class SeenChanges:
    """What changed in ``seen`` since the last commit, so a store can write only that."""

    added: dict[str, int] = field(default_factory=dict)
    removed_before: int | None = None


@dataclass
class PollPlan:
    """One read: from ``since`` (inclusive) to ``until`` (exclusive; None: to the newest)."""

    since: int
    kind: ReadKind
    started: int
    """Clock time when this read began (earlier than now when it resumes one)."""
    page: str | None = None
    """The API's cursor of the first page to read (a read resumed part-way), or None."""
    until: int | None = None

    @property
    def sweep(self) -> bool:
        """Whether it reads settled time, so that ``settled`` moves on when it completes."""
        return self.kind != "fresh"

    @property
    def emits(self) -> bool:
        return self.kind != "prime"


def pages(items: float, page_size: int) -> int:
    """Requests a read of ``items`` items costs: at least one, even when nothing is new."""
    return max(1, math.ceil(items / page_size))


@dataclass(frozen=True)
class Traffic:
    """What the policy plans with: measured rate, poll interval, page size, budget."""

    rate: float
    """Items a second."""
    interval_s: float
    page_size: int
    budget_per_hour: float

    def live_cost_per_hour(self, policy: CursorPolicy) -> float:
        """Fresh reads every poll, settled time every ``sweep_interval`` (or every poll, when
        a sweep costs no more than a fresh read)."""
        interval, every = self.interval_s, max(policy.sweep_interval_s, self.interval_s)
        delay = policy.settle_delay_us / MICROS
        fresh = pages(self.rate * (interval + FRESH_OVERLAP_S), self.page_size)
        if pages(self.rate * (interval + delay), self.page_size) <= fresh:
            return 3600 / interval * fresh
        settle = pages(self.rate * every, self.page_size)
        sweep = pages(self.rate * (every + delay), self.page_size)
        return 3600 / interval * fresh + 3600 / every * min(settle, sweep - fresh)

    def batch_cost_per_hour(self) -> float:
        """Settled time every poll, nothing else: each item read once."""
        return 3600 / self.interval_s * pages(self.rate * self.interval_s, self.page_size)

    def mode(self, policy: CursorPolicy) -> Mode:
        return "live" if self.live_cost_per_hour(policy) <= self.budget_per_hour else "batch"

    def behind_per_hour_s(self) -> float:
        """How many seconds of traffic batch mode falls further behind each hour (0: none)."""
        capacity = self.budget_per_hour * self.page_size
        wanted = self.rate * 3600
        return 0.0 if wanted <= capacity else 3600 * (1 - capacity / wanted)


class Cursor:
    """Plans a poll's reads and decides which items of each page are new."""

    def __init__(self, state: CursorState, policy: CursorPolicy | None = None) -> None:
        self.state = state
        self.policy = policy or CursorPolicy()
        self.changes = SeenChanges()
        self._oldest_seen = min(state.seen.values(), default=None)
        self._done: set[ReadKind] = set()
        self._resumed = False
        self._mode: Mode | None = None

    @property
    def settled(self) -> int:
        """Everything stamped before this was read while visible: no read goes further back."""
        last = self.state.last_sweep
        settled = self.state.floor if last is None else last - self.policy.settle_delay_us
        return max(self.state.floor, settled)

    @property
    def window_start(self) -> int:
        """The oldest timestamp a read may still bring back (the ids before it are dropped)."""
        return self.settled

    def traffic(self, now: int, page_size: int, budget_per_hour: float) -> Traffic:
        last = self.state.last_poll
        interval = (now - last) / MICROS if last is not None and now > last else 0.0
        return Traffic(
            rate=self.state.rate,
            interval_s=max(interval, MIN_POLL_INTERVAL_S) if interval else DEFAULT_POLL_INTERVAL_S,
            page_size=page_size,
            budget_per_hour=budget_per_hour,
        )

    def next_read(
        self, now: int, *, page_size: int = MAX_PAGE_SIZE, budget_per_hour: float = math.inf
    ) -> PollPlan | None:
        """The next read of this poll, or None when the poll is done."""
        state = self.state
        if state.resume_since is not None and not self._resumed:
            self._resumed = True
            kind: ReadKind = "fresh"
            if state.sweep_started is not None:
                kind = "settle" if state.resume_until is not None else "sweep"
            started = state.sweep_started if state.sweep_started is not None else now
            return PollPlan(
                state.resume_since, kind, started, state.resume_page, state.resume_until
            )
        if self._done & {"sweep", "prime"}:
            return None
        traffic = self.traffic(now, page_size, budget_per_hour)
        if self._mode is None:
            self._mode = traffic.mode(self.policy)  # one mode a poll, whatever its reads measure
        overlap = int(FRESH_OVERLAP_S * MICROS)
        fresh_since = max(state.watermark - overlap, self.settled)
        if self._mode == "batch":
            until = now - self.policy.settle_delay_us
            if "settle" in self._done or until <= self.settled:
                return None
            stretch_s = (until - self.settled) / MICROS
            if stretch_s < 3600 / budget_per_hour and traffic.rate * stretch_s < page_size:
                return None  # a read now would spend a request on less than a page
            return PollPlan(self.settled, "settle", now, until=until)
        if "settle" not in self._done and "fresh" not in self._done:
            rate, delay = traffic.rate / MICROS, self.policy.settle_delay_us
            fresh = pages(rate * (now - fresh_since), page_size)
            sweep = pages(rate * (now - self.settled), page_size)
            last = state.last_sweep
            due = last is None or now - last >= self.policy.sweep_interval_us
            if sweep <= fresh:
                return PollPlan(self.settled, "sweep", now)
            if due:
                until = self.settle_until(now - delay, traffic.rate, page_size)
                settle = pages(rate * (until - self.settled), page_size)
                if sweep < settle + fresh or until <= self.settled:
                    return PollPlan(self.settled, "sweep", now)
                return PollPlan(self.settled, "settle", now, until=until)
        if "fresh" in self._done:
            return None
        return PollPlan(fresh_since, "fresh", now)

    def settle_until(self, latest: int, rate: float, page_size: int) -> int:
        """Where a settle read up to ``latest`` should end so that its pages come out full but
        not one item over (a page of 501 items costs two requests): the stretch is cut to the
        whole pages it fills, at ``PAGE_FILL`` of a page each, and the rest waits for the next."""
        stretch_s = (latest - self.settled) / MICROS
        per_page = PAGE_FILL * page_size
        if rate <= 0 or rate * stretch_s <= per_page:
            return latest
        whole = max(1, math.floor(rate * stretch_s / per_page))
        return min(latest, self.settled + int(whole * per_page / rate * MICROS))

    def new_items(self, keyed: list[tuple[int, str]]) -> list[int]:
        """Indexes of the (timestamp, id) keys of one page to emit, in page order: not emitted
        before, and inside the watched window."""
        start, seen = self.window_start, self.state.seen
        return [i for i, (ts, item_id) in enumerate(keyed) if item_id not in seen and ts >= start]

    def record(self, timestamp: int, item_id: str) -> None:
        """Remember an emitted item (after it was delivered, before the commit)."""
        self.state.seen[item_id] = timestamp
        self.changes.added[item_id] = timestamp
        self.state.watermark = max(self.state.watermark, timestamp)
        if self._oldest_seen is None or timestamp < self._oldest_seen:
            self._oldest_seen = timestamp

    def prune(self) -> None:
        """Forget the ids that fell out of the window, so memory follows the window, not the
        backlog (called after every page: the window only moves forward)."""
        oldest = self.window_start
        if self._oldest_seen is None or self._oldest_seen >= oldest:
            return
        self.state.seen = {i: ts for i, ts in self.state.seen.items() if ts >= oldest}
        self.changes.added = {i: ts for i, ts in self.changes.added.items() if ts >= oldest}
        self.changes.removed_before = oldest
        self._oldest_seen = min(self.state.seen.values(), default=None)

    def stop_early(self, plan: PollPlan, next_page: str) -> None:
        """A read stopped before its last page: the next poll resumes at ``next_page``."""
        self.state.resume_since = plan.since
        self.state.resume_page = next_page
        self.state.resume_until = plan.until
        self.state.sweep_started = plan.started if plan.sweep else None
        self.prune()

    def read_up_to(self, plan: PollPlan, last: int) -> None:
        """A page of a read of settled time ended at timestamp ``last``: everything stamped
        before it (and before the read's own end) is settled now, without waiting for the read
        to end, so that a long read (a backfill) keeps only a page's worth of ids in ``seen``.
        (Items stamped exactly ``last`` may continue on the next page: they stay watched.)"""
        if not plan.sweep:
            return
        end = plan.started - self.policy.settle_delay_us
        if plan.until is not None:
            end = min(end, plan.until)
        self._settle_to(min(last, end))

    def _settle_to(self, settled: int) -> None:
        """Settled time ends at ``settled`` (never moving back): as if a sweep had begun a
        settle delay after it."""
        moved = settled + self.policy.settle_delay_us
        if self.state.last_sweep is None or moved > self.state.last_sweep:
            self.state.last_sweep = moved

    def finish_read(self, plan: PollPlan, items_read: int, now: int) -> None:
        """After the last page of a read: a read of settled time counts as done, as of when it
        began; a whole read measures the traffic."""
        self._done.add(plan.kind)
        if plan.sweep:
            end = plan.started - self.policy.settle_delay_us
            self._settle_to(end if plan.until is None else min(end, plan.until))
        resumed = plan.page is not None
        state = self.state
        state.resume_since = state.resume_page = state.sweep_started = state.resume_until = None
        end = plan.until if plan.until is not None else now
        span_s = (end - plan.since) / MICROS
        if not resumed and span_s >= 1:
            measured = items_read / span_s
            if state.rate == 0:
                state.rate = measured
            else:  # a burst counts at most twice the estimate: it passes, the traffic stays
                measured = min(measured, RATE_STEP * state.rate)
                state.rate = RATE_WEIGHT * measured + (1 - RATE_WEIGHT) * state.rate
        self.prune()

    def finish_poll(self, now: int) -> None:
        """The poll is over: remember when, for the interval between polls."""
        self.state.last_poll = now

    # -- the budget ---------------------------------------------------------------------------
    def spent_last_hour(self, now: int) -> int:
        """Requests this trigger made in the hour before ``now``, counted by whole minutes: the
        minute the hour began in counts whole, so this is never less than the truth."""
        first = (now - HOUR_US) // MINUTE_US
        return sum(count for minute, count in self.state.spent.items() if minute >= first)

    def spend(self, now: int, requests: int = 1) -> None:
        minute = now // MINUTE_US
        first = (now - HOUR_US) // MINUTE_US
        spent = {m: c for m, c in self.state.spent.items() if m >= first}
        spent[minute] = spent.get(minute, 0) + requests
        self.state.spent = spent

    def budget_frees_in(self, now: int, budget_per_hour: float) -> int:
        """Microseconds until the hour's budget allows a request again (0: it does now)."""
        spent = self.spent_last_hour(now)
        if spent < budget_per_hour:
            return 0
        for minute in sorted(self.state.spent):
            spent -= self.state.spent[minute]
            if spent < budget_per_hour:
                return max(0, (minute + 1) * MINUTE_US + HOUR_US - now)
        return 0

    def allowance(self, now: int, budget_per_hour: float) -> float:
        """Requests this poll may make: what is left of the hour, and, once polls have a
        cadence, at most ``BURST_FACTOR`` times a poll's average share (so a follower catches a
        backlog up over several polls). A first poll (a backfill, or one cut short before it
        ended) has no cadence yet: the hour's budget is its only limit."""
        if math.isinf(budget_per_hour):
            return math.inf
        left = budget_per_hour - self.spent_last_hour(now)
        if self.state.last_poll is None:
            return max(0.0, left)
        interval = self.traffic(now, 1, budget_per_hour).interval_s
        share = budget_per_hour * interval / 3600
        return max(0.0, min(left, max(1.0, math.ceil(BURST_FACTOR * share))))

    def take_changes(self) -> SeenChanges:
        """Hand the changes to the store and start a new batch."""
        changes, self.changes = self.changes, SeenChanges()
        return changes
