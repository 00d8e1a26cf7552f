"""The dedupe cursor: which items a poll asks for, which it emits, and how the cursor moves.

Items are ordered by ``(timestamp, id)``. The cursor keeps

* ``watermark``: the newest timestamp emitted (or the start time);
* ``seen``: the ids emitted whose timestamp lies within ``lookback`` of the watermark;
* ``last_sweep``: when the last complete look-back over that window began;
* ``resume_since`` and ``resume_page``: where a poll that stopped part-way (the rate budget ran
  low) got to: its ``since`` and the API's cursor of its next page; ``sweep_started``, when it
  was a look-back, when that began.

A regular poll asks for ``since = watermark`` (inclusive, so items that tie with the newest one
emitted still come out; ``seen`` drops the ones already emitted). Every ``sweep_interval`` a poll
asks for ``since = watermark - lookback`` instead, which finds items that became visible late,
after newer ones. ``lookback = lateness_bound + sweep_interval + margin``: an item visible at most
``lateness_bound`` after its timestamp is found by the first sweep after it became visible, so it
comes out at most ``sweep_interval`` (plus one poll interval) after that. ``seen`` holds only ids
inside the window, so its size is bounded by the traffic of one window, whatever the backlog.

A poll that stops part-way resumes at its next page on the next poll, never at the start of the
window it already read: after a burst larger than one poll's budget, a look-back that restarted
would re-read the same pages and stop at the same place for ever. A look-back counts as done only
when it reached the last page, and then as of when it began, so the next one is not put off by
the time it took.

All times are integer microseconds since the epoch; the class is pure (no I/O, no clock).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from api_client.contract import LATENESS_BOUND_S, MICROS

DEFAULT_SWEEP_INTERVAL_S = 120.0
SWEEP_MARGIN_S = 30.0


@dataclass(frozen=True)
class CursorPolicy:
    lateness_bound_s: float = LATENESS_BOUND_S
    sweep_interval_s: float = DEFAULT_SWEEP_INTERVAL_S

    @property
    def lookback_us(self) -> int:
        return int((self.lateness_bound_s + self.sweep_interval_s + SWEEP_MARGIN_S) * MICROS)

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
    """id -> timestamp of the items emitted inside the lookback window."""
    last_sweep: int | None = None
    """Clock time (µs) when the last complete look-back began; None: never."""
    resume_since: int | None = None
    """``since`` of a poll that stopped part-way; None: none pending."""
    resume_page: str | None = None
    """The API's cursor of that poll's next page."""
    sweep_started: int | None = None
    """Clock time (µs) when that poll began, when it was a look-back; None: it was not."""

    @classmethod
    def starting_at(cls, start: int) -> CursorState:
        return cls(floor=start, watermark=start)

    def copy(self) -> CursorState:
        """An independent copy (``seen`` included), as a store hands out and keeps."""
        return replace(self, seen=dict(self.seen))


@dataclass
class SeenChanges:
    """What changed in ``seen`` since the last commit, so a store can write only that."""

    added: dict[str, int] = field(default_factory=dict)
    removed_before: int | None = None


@dataclass
class PollPlan:
    since: int
    sweep: bool
    started: int
    """Clock time when this look-back began (earlier than now when it resumes one)."""
    page: str | None = None
    """The API's cursor of the first page to read (a poll resumed part-way), or None."""


class Cursor:
    """Decides what one poll asks for and which of the items it gets are new."""

    def __init__(self, state: CursorState, policy: CursorPolicy | None = None) -> None:
        self.state = state
        self.policy = policy or CursorPolicy()
        self.changes = SeenChanges()
        self._oldest_seen = min(state.seen.values(), default=None)

    @property
    def window_start(self) -> int:
        """The oldest timestamp still watched for late items."""
        return max(self.state.floor, self.state.watermark - self.policy.lookback_us)

    def plan(self, now: int) -> PollPlan:
        """Where this poll starts: where an unfinished look-back stopped; the window before the
        watermark when a look-back is due; else the watermark."""
        state = self.state
        if state.resume_since is not None:
            sweep = state.sweep_started is not None
            started = state.sweep_started if state.sweep_started is not None else now
            return PollPlan(state.resume_since, sweep, started, page=state.resume_page)
        last = state.last_sweep
        if last is None or now - last >= self.policy.sweep_interval_us:
            return PollPlan(self.window_start, sweep=True, started=now)
        return PollPlan(state.watermark, sweep=False, started=now)

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
        backlog (called after every page: the window only moves forward as pages ascend)."""
        oldest = self.window_start
        if self._oldest_seen is None or self._oldest_seen >= oldest:
            return
        self.state.seen = {i: ts for i, ts in self.state.seen.items() if ts >= oldest}
        self.changes.added = {i: ts for i, ts in self.changes.added.items() if ts >= oldest}
        self.changes.removed_before = oldest
        self._oldest_seen = min(self.state.seen.values(), default=None)

    def stop_early(self, plan: PollPlan, next_page: str) -> None:
        """A poll stopped before its last page: the next one resumes at ``next_page``."""
        self.state.resume_since = plan.since
        self.state.resume_page = next_page
        self.state.sweep_started = plan.started if plan.sweep else None
        self.prune()

    def finish_poll(self, plan: PollPlan) -> None:
        """After the last page of a complete poll: a look-back counts as done, as of when it
        began."""
        if plan.sweep:
            self.state.last_sweep = plan.started
        self.state.resume_since = self.state.resume_page = self.state.sweep_started = None
        self.prune()

    def take_changes(self) -> SeenChanges:
        """Hand the changes to the store and start a new batch."""
        changes, self.changes = self.changes, SeenChanges()
        return changes
