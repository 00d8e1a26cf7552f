"""The dedupe cursor: which items a poll asks for, which it emits, and how the cursor moves.

Items are ordered by ``(timestamp, id)``. The cursor keeps

* ``watermark``: the newest timestamp emitted (or the start time);
* ``seen``: the ids emitted whose timestamp lies within ``lookback`` of the watermark;
* ``last_sweep``: when the poll last looked back over that window.

A regular poll asks for ``since = watermark`` (inclusive, so items that tie with the newest one
emitted still come out; ``seen`` drops the ones already emitted). Every ``sweep_interval`` a poll
asks for ``since = watermark - lookback`` instead, which finds items that became visible late,
after newer ones. ``lookback = lateness_bound + sweep_interval + margin``: an item visible at most
``lateness_bound`` after its timestamp is found by the first sweep after it became visible, so it
comes out at most ``sweep_interval`` (plus one poll interval) after that. ``seen`` holds only ids
inside the window, so its size is bounded by the traffic of one window, whatever the backlog.

All times are integer microseconds since the epoch; the class is pure (no I/O, no clock).
"""

from __future__ import annotations

from dataclasses import dataclass, field

MICROS = 1_000_000
LATENESS_BOUND_S = 120.0
"""MxGuard's published bound on how late a verdict can become visible."""
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
    """Clock time (µs) of the last poll that looked back; None: never."""

    @classmethod
    def starting_at(cls, start: int) -> CursorState:
        return cls(floor=start, watermark=start)


@dataclass
class SeenChanges:
    """What changed in ``seen`` since the last commit, so a store can write only that."""

    added: dict[str, int] = field(default_factory=dict)
    removed_before: int | None = None


@dataclass
class PollPlan:
    since: int
    sweep: bool


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
        """Where this poll starts: at the watermark, or the window before it when a sweep is due."""
        last = self.state.last_sweep
        if last is None or now - last >= self.policy.sweep_interval_us:
            return PollPlan(self.window_start, sweep=True)
        return PollPlan(self.state.watermark, sweep=False)

    def new_items(self, keyed: list[tuple[str, int]]) -> list[int]:
        """Indexes of the (id, timestamp) pairs of one page to emit, in page order: not emitted
        before, and inside the watched window."""
        start, seen = self.window_start, self.state.seen
        return [i for i, (item_id, ts) in enumerate(keyed) if item_id not in seen and ts >= start]

    def record(self, item_id: str, timestamp: int) -> None:
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

    def finish_poll(self, plan: PollPlan, now: int) -> None:
        """After the last page of a complete poll: a look-back counts as done."""
        if plan.sweep:
            self.state.last_sweep = now
        self.prune()

    def take_changes(self) -> SeenChanges:
        """Hand the changes to the store and start a new batch."""
        changes, self.changes = self.changes, SeenChanges()
        return changes
