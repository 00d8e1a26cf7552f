"""What a bulk run will cost: requests per operation, and the time the token's budget allows.

Each action sends one request; its repeat rule (``actions/repeat.py``) may add one more when the
row meets the state a first run left (a lookup of the existing object, or a check that the rule's
domain is there): so a row costs one request, or two on a repeat, and the plan states the range.

Time: requests go out as early as both windows of the token allow (``pace``): bursts of the
minute's limit, then, past the hour's limit, a wait for the hour's first request to age out. The
client's limiter adds ``DEFAULT_MARGIN`` (1 s) to each window, so its pace is what ``pace`` gives
with that margin; the server's own windows (margin 0) give the least time any client could take.
Latency is not counted: at 60/min it is small beside the waits.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from actions import ActionDefinition
from actions.repeat import Absent, Current, Empty, Existing
from api_client.ratelimit import DEFAULT_MARGIN, HOUR, MINUTE
from connector.bulk.rows import OPS, BulkFile, bulk_actions


def request_cost(action: ActionDefinition[Any]) -> tuple[int, int]:
    """Requests one row costs: (first time, on a repeat)."""
    rule = action.http.repeat
    extra = 0
    if isinstance(rule, Existing | Current):
        extra = 1  # the lookup of the object there already
    elif isinstance(rule, Absent):
        extra = 1 if rule.check is not None else 0
    elif isinstance(rule, Empty) or rule is None:
        extra = 0
    return 1, 1 + extra


def pace(
    count: int,
    per_minute: int,
    per_hour: int,
    *,
    margin: float = DEFAULT_MARGIN,
    sent: Iterable[float] = (),
    now: float = 0.0,
) -> float:
    """Seconds from ``now`` until the last of ``count`` more requests may go, each sent as early
    as both sliding windows allow, after requests already ``sent`` at those times."""
    minute, hour = MINUTE + margin, HOUR + margin
    times: deque[float] = deque((t for t in sorted(sent) if t > now - hour), maxlen=per_hour)
    last = now
    for _ in range(count):
        at = now
        if len(times) >= per_minute:
            at = max(at, times[-per_minute] + minute)
        if len(times) >= per_hour:
            at = max(at, times[-per_hour] + hour)
        times.append(at)
        last = at
    return last - now


def duration(seconds: float) -> str:
    """``549`` -> ``9 min 9 s``; ``3601`` -> ``1 h 0 min 1 s``; under a minute, to the second."""
    whole = round(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes} min {secs} s"
    if minutes:
        return f"{minutes} min {secs} s"
    return f"{secs} s"


@dataclass(frozen=True)
class OpPlan:
    op: str
    rows: int
    cost: tuple[int, int]
    """Requests per row: first time, on a repeat."""

    @property
    def requests(self) -> tuple[int, int]:
        return self.rows * self.cost[0], self.rows * self.cost[1]


@dataclass(frozen=True)
class Plan:
    """The rows a run will send, what they cost and how long the budget makes them take."""

    ops: tuple[OpPlan, ...]
    total_rows: int
    done: int
    """Rows a journal says are done already: not sent again."""
    invalid: int
    per_minute: int
    per_hour: int

    @property
    def rows(self) -> int:
        return sum(op.rows for op in self.ops)

    @property
    def requests(self) -> tuple[int, int]:
        """Requests the rows cost: (all sent the first time, all meeting a repeat)."""
        return sum(op.requests[0] for op in self.ops), sum(op.requests[1] for op in self.ops)

    def seconds(self, requests: int, margin: float = DEFAULT_MARGIN) -> float:
        """At this pace from a full budget; margin 0 is the least the server's windows allow."""
        return pace(requests, self.per_minute, self.per_hour, margin=margin)

    def describe(self) -> list[str]:
        """The plan as lines for people (what ``--dry-run`` prints)."""
        low, high = self.requests
        lines = [
            f"{self.total_rows} rows: {self.rows} to send, {self.done} done already "
            f"(journal), {self.invalid} invalid (not sent)"
        ]
        width = max((len(op.op) for op in self.ops), default=0)
        for op in self.ops:
            first, repeat = op.requests
            spread = f"{first}" if first == repeat else f"{first}-{repeat}"
            each = f"{op.cost[0]} a row" + (f", {op.cost[1]} on a repeat" if repeat > first else "")
            lines.append(f"  {op.op:<{width}}  {op.rows:>6} rows  {spread:>11} requests ({each})")
        spread = f"{low}" if low == high else f"{low} to {high}"
        lines.append(
            f"requests: {spread}"
            + (
                " (a repeat rule adds a lookup when a row meets what an earlier run left)"
                if high > low
                else ""
            )
        )
        limits = f"{self.per_minute}/min and {self.per_hour}/h"
        if low == 0:
            lines.append("time: none, nothing to send")
            return lines
        if duration(self.seconds(low)) == duration(self.seconds(high)):
            took = duration(self.seconds(low))
        else:
            took = f"{duration(self.seconds(low))} to {duration(self.seconds(high))}"
        lines.append(
            f"time at the token's limits ({limits}): {took} from a full budget (the least its "
            f"windows allow: {duration(self.seconds(low, margin=0))}), plus the answers' latency"
        )
        return lines


def make_plan(
    bulk: BulkFile,
    per_minute: int,
    per_hour: int,
    *,
    done: Collection[int] = (),
) -> Plan:
    """The plan for ``bulk``'s valid rows not ``done`` (by line); invalid rows are skipped."""
    actions = bulk_actions()
    counts: Mapping[str, int] = {
        op: sum(1 for row in bulk.rows if row.op == op and row.valid and row.line not in done)
        for op in OPS
    }
    return Plan(
        ops=tuple(OpPlan(op, counts[op], request_cost(actions[op])) for op in OPS if counts[op]),
        total_rows=len(bulk.rows),
        done=sum(1 for row in bulk.rows if row.valid and row.line in done),
        invalid=len(bulk.invalid),
        per_minute=per_minute,
        per_hour=per_hour,
    )
