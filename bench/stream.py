"""Live stream: the ``new_verdict`` Poller against a naive cursor, on an hour of simulated traffic.

The other benchmarks poll a backlog that is already there. What a trigger meets in production is
a live stream: verdicts arriving all the time, some in tied batches sharing one ``scanned_at``, a
few becoming visible minutes late, a burst now and then, and a rate budget (600 requests an hour
per token) that a busy account can exhaust. Whether nothing is lost or repeated, how late items
come out, and how many requests that costs only shows when such a stream is replayed over time.

Replayed against a simulated API (``bench.simulated_api``) whose clock moves only when a request
is served (0.2 s a page) or the client sleeps: an hour takes seconds, nothing sleeps, and each
contender gets its own API and clock over the very same stream. The real ``MxGuardClient`` (with
its own rate limiter) and the real ``Poller`` run unchanged; only the socket is simulated.

The naive cursor is what a first integration usually does: ``since = newest scanned_at seen``,
keep what is strictly newer, follow every page. It shows what the Poller's look-backs and dedupe
cost in requests, and what they buy (the naive one loses ties at the boundary and late items).
"""

from __future__ import annotations

import inspect
import math
import random
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from pydantic import BaseModel

from api_client import MxGuardClient, RateLimitedError
from api_client.contract import DEFAULT_PER_HOUR, MAX_PAGE_SIZE, MICROS
from bench.report import Table
from bench.simulated_api import BASE_URL, PAGE_SECONDS, SimulatedApi, SimVerdict, VerdictLog
from connector.polling import budget_guard
from sandbox.generator import (
    LOCAL_PARTS,
    SCORES,
    SUBJECTS,
    pick_action,
    pick_verdict,
    sender_for,
)
from sandbox.timefmt import format_us, parse_to_us
from triggers import MemoryCursorStore, Poller
from triggers.polling.new_verdict import TRIGGER as NEW_VERDICT
from triggers.polling.new_verdict import VerdictFilters

FULL_RATES = (4, 20, 40, 60, 83)
QUICK_RATES = (4, 20)
FULL_SECONDS = 3600.0
QUICK_SECONDS = 600.0
TAIL_SECONDS = 600.0
"""Polling goes on this long after the stream ends, so late items and a backlog can drain."""
POLL_INTERVAL_S = 60.0
BUDGET_ROW = (20, 200)
"""(rate, budget_per_hour): the Poller held to a third of the token's budget."""
SEED = 20261123
START_US = parse_to_us("2026-11-23T18:00:00Z")
TOKEN = "mxg_test_" + ("Stream-Bench_" * 4)[:43]
DOMAINS = ("bench-one.example", "bench-two.example", "bench-three.example")
POLLER_TAKES_BUDGET = "budget_per_hour" in inspect.signature(Poller).parameters
"""The Poller is gaining ``budget_per_hour``; the benchmark runs before and after that lands."""


@dataclass(frozen=True)
class StreamShape:
    """What makes a stream hard: ties, late arrival, a burst (the issue's figures)."""

    tie_share: float = 0.002
    """Share of arrivals that are a batch of verdicts sharing one ``scanned_at``."""
    tie_sizes: tuple[int, int] = (10, 60)
    late_share: float = 0.02
    """Share of verdicts visible ``late_seconds`` after their ``scanned_at``."""
    late_seconds: tuple[float, float] = (5.0, 120.0)
    prompt_seconds: float = 1.5
    """The others are visible within this long; a delay is "on time" below it."""
    burst_size: int = 3_000
    burst_seconds: float = 10.0

    @property
    def mean_arrival_size(self) -> float:
        low, high = self.tie_sizes
        return 1 - self.tie_share + self.tie_share * (low + high) / 2


@dataclass(frozen=True)
class Stream:
    rate: float
    seconds: float
    start_us: int
    log: VerdictLog
    late: int
    tied: int
    burst_at_s: float
    shape: StreamShape

    @property
    def end_us(self) -> int:
        """When polling stops: the stream's end plus the tail."""
        return self.start_us + int((self.seconds + TAIL_SECONDS) * MICROS)


def generate_stream(
    rate: float,
    seconds: float,
    rng: random.Random,
    *,
    start_us: int = START_US,
    shape: StreamShape | None = None,
) -> Stream:
    """Poisson arrivals for ``seconds``, ``rate`` verdicts a second on average (tied batches
    included: the arrival rate is scaled down by their mean size), plus one burst.

    Lateness is drawn per verdict, so a tied batch can straddle a poll: some of it visible
    before, some after, which is exactly where a cursor on timestamps loses items.
    """
    shape = shape or StreamShape()
    arrivals_per_s = rate / shape.mean_arrival_size
    verdicts: list[SimVerdict] = []
    tied = 0
    at = rng.expovariate(arrivals_per_s)
    while at < seconds:
        size = 1
        if rng.random() < shape.tie_share:
            size = rng.randint(*shape.tie_sizes)
            tied += size
        scanned = start_us + int(at * MICROS)
        verdicts.extend(_verdict(rng, scanned, shape) for _ in range(size))
        at += rng.expovariate(arrivals_per_s)
    burst_at = rng.uniform(0.0, seconds - shape.burst_seconds)
    for _ in range(shape.burst_size):
        offset = burst_at + rng.uniform(0.0, shape.burst_seconds)
        verdicts.append(_verdict(rng, start_us + int(offset * MICROS), shape))
    prompt_us = int(shape.prompt_seconds * MICROS)
    late = sum(1 for v in verdicts if v.visible_us - v.scanned_us > prompt_us)
    log = VerdictLog(verdicts)
    return Stream(rate, seconds, start_us, log, late, tied, burst_at, shape)


def _verdict(rng: random.Random, scanned_us: int, shape: StreamShape) -> SimVerdict:
    """A realistic verdict (the sandbox's traffic mix), visible promptly or late."""
    if rng.random() < shape.late_share:
        lateness = rng.uniform(*shape.late_seconds)
    else:
        lateness = rng.uniform(0.0, shape.prompt_seconds)
    verdict = pick_verdict(rng)
    score = round(rng.uniform(*SCORES[verdict]), 1)
    sender = sender_for(verdict, rng)
    domain = rng.choice(DOMAINS)
    return SimVerdict(
        id=f"vrd_{rng.getrandbits(96):024x}",
        scanned_us=scanned_us,
        visible_us=scanned_us + int(lateness * MICROS),
        message_id=f"<{rng.getrandbits(64):016x}@{sender.partition('@')[2]}>",
        domain=domain,
        sender=sender,
        recipient=f"{rng.choice(LOCAL_PARTS)}@{domain}",
        subject=rng.choice(SUBJECTS[verdict]).format(n=rng.randint(100, 999)),
        verdict=verdict,
        score=score,
        action=pick_action(verdict, score, rng),
    )


# contenders ----------------------------------------------------------------------------------
@dataclass
class Deliveries:
    """What a contender's sink received: when each id first came out, and how many in all."""

    first_us: dict[str, int] = field(default_factory=dict)
    emitted: int = 0

    def record(self, ids: Iterable[str], now_us: int) -> None:
        for item_id in ids:
            self.emitted += 1
            self.first_us.setdefault(item_id, now_us)


@dataclass(frozen=True)
class Run:
    contender: str
    api: SimulatedApi
    deliveries: Deliveries
    failed_polls: int
    """Polls that ended in a rate-limit error instead of returning."""


def drive(api: SimulatedApi, stream: Stream, poll: Callable[[], object]) -> int:
    """Poll at every whole minute from the stream's start to ``end_us``, as a scheduler would.

    A poll that overruns its minute (waiting for the rate limit) lets the ticks it covered
    lapse: the next poll is the next tick, not a catch-up burst. A poll that ends in a rate-limit
    error is counted and the schedule goes on, as ``mxguard poll --follow`` does.
    """
    interval = int(POLL_INTERVAL_S * MICROS)
    tick, failed = stream.start_us, 0
    while tick <= stream.end_us:
        api.advance_to(tick)
        try:
            poll()
        except RateLimitedError:
            failed += 1
        tick += interval * max(1, math.ceil((api.now_us() - tick) / interval))
    return failed


def run_poller(stream: Stream, budget_per_hour: int | None = None) -> Run:
    """The ``new_verdict`` trigger as ``mxguard poll`` builds it (``make_poller``: in-memory
    cursor here, the same rate-budget guard), backfilling from the start of the stream."""
    api = SimulatedApi(stream.log, start_us=stream.start_us, tokens=[TOKEN])
    deliveries = Deliveries()
    session = api.session()
    client = MxGuardClient(
        TOKEN,
        BASE_URL,
        session=session,
        clock=api.time,
        sleep=api.sleep,
        rate_limit_db=":memory:",
    )
    extra: dict[str, Any] = {}
    if budget_per_hour is not None and POLLER_TAKES_BUDGET:
        extra["budget_per_hour"] = budget_per_hour
    poller = Poller(
        trigger=NEW_VERDICT,
        client=client,
        filters=VerdictFilters(),
        store=MemoryCursorStore(),
        key="new_verdict:bench-stream",
        clock_us=api.now_us,
        page_size=MAX_PAGE_SIZE,
        start_us=stream.start_us,
        should_stop=budget_guard(client),
        **extra,
    )

    def sink(items: Sequence[BaseModel]) -> None:
        deliveries.record((NEW_VERDICT.item_key(item)[1] for item in items), api.now_us())

    with client, session:
        failed = drive(api, stream, lambda: poller.poll(sink))
    return Run("Poller", api, deliveries, failed)


def run_naive(stream: Stream) -> Run:
    """``since = newest scanned_at seen``, keep what is strictly newer, follow every page.

    Plain ``requests`` on the same simulated API: no limiter of its own, it waits out a 429 as
    ``Retry-After`` says (and gives up a wait that would end after the run).
    """
    api = SimulatedApi(stream.log, start_us=stream.start_us, tokens=[TOKEN])
    deliveries = Deliveries()
    session = api.session()
    session.headers["Authorization"] = f"Bearer {TOKEN}"
    last = stream.start_us - 1

    def get(params: dict[str, str]) -> dict[str, Any] | None:
        while True:
            response = session.get(BASE_URL + "/api/v1/verdicts", params=params, timeout=30)
            if response.status_code != 429:
                response.raise_for_status()
                page: dict[str, Any] = response.json()
                return page
            wait = float(response.headers["Retry-After"])
            if api.now_us() + wait * MICROS > stream.end_us:
                return None
            api.sleep(wait)

    def poll() -> None:
        nonlocal last
        newest, cursor = last, None
        while True:
            params = {"since": format_us(last), "order": "asc", "limit": str(MAX_PAGE_SIZE)}
            page = get(params if cursor is None else {**params, "cursor": cursor})
            if page is None:
                break
            fresh = []
            for item in page["data"]:
                stamp = parse_to_us(item["scanned_at"])
                if stamp > last:
                    fresh.append(item["id"])
                    newest = max(newest, stamp)
            deliveries.record(fresh, api.now_us())
            cursor = page["next_cursor"] if page["has_more"] else None
            if cursor is None:
                break
        last = newest

    with session:
        failed = drive(api, stream, poll)
    return Run("naive", api, deliveries, failed)


# measures ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Delays:
    """Emit time minus visible time of the items that came out, in seconds."""

    count: int
    p50: float
    p99: float
    max: float

    @classmethod
    def of(cls, delays_us: list[int]) -> Delays:
        if not delays_us:
            return cls(0, 0.0, 0.0, 0.0)
        ordered = sorted(delays_us)

        def rank(share: float) -> float:
            return ordered[max(0, math.ceil(share * len(ordered)) - 1)] / MICROS

        return cls(len(ordered), rank(0.50), rank(0.99), ordered[-1] / MICROS)

    def cell(self) -> str:
        if not self.count:
            return "-"
        return f"{self.p50:.1f} / {self.p99:.1f} / {self.max:.1f} s"


@dataclass(frozen=True)
class Outcome:
    rate: float
    contender: str
    verdicts: int
    requests: int
    busiest_hour: int
    rejected: int
    failed_polls: int
    missed: int
    duplicates: int
    on_time: Delays
    late: Delays
    seconds: float
    """Wall time of the replay."""


def measure(stream: Stream, run: Run, label: str, seconds: float) -> Outcome:
    """Compare what came out with the stream: every verdict visible before the end is due."""
    prompt_us = int(stream.shape.prompt_seconds * MICROS)
    first = run.deliveries.first_us
    on_time: list[int] = []
    late: list[int] = []
    missed = 0
    for verdict in stream.log.items:
        if verdict.visible_us > stream.end_us:
            continue
        emitted = first.get(verdict.id)
        if emitted is None:
            missed += 1
            continue
        delays = late if verdict.visible_us - verdict.scanned_us > prompt_us else on_time
        delays.append(emitted - verdict.visible_us)
    return Outcome(
        rate=stream.rate,
        contender=label,
        verdicts=len(stream.log),
        requests=run.api.requests_served(),
        busiest_hour=run.api.busiest_hour(),
        rejected=sum(run.api.rejected.values()),
        failed_polls=run.failed_polls,
        missed=missed,
        duplicates=run.deliveries.emitted - len(first),
        on_time=Delays.of(on_time),
        late=Delays.of(late),
        seconds=seconds,
    )


@dataclass(frozen=True)
class Target:
    """The issue's targets for one row of the Poller; None: not judged."""

    max_ratio: float | None = None
    """Requests at most this many times the naive cursor's, on the same stream."""
    on_time_p99_s: float | None = None
    late_max_s: float | None = None
    max_delay_s: float | None = None
    """Every item delivered within this long of becoming visible."""
    per_hour: int = DEFAULT_PER_HOUR
    """Requests in the busiest rolling hour, 429s included."""
    budgeted: bool = False
    """The row is about ``budget_per_hour``: a Poller without it cannot meet it."""

    def failures(self, outcome: Outcome, naive: Outcome) -> list[str]:
        found = []
        if self.budgeted and not POLLER_TAKES_BUDGET:
            found.append("Poller has no budget_per_hour")
        if outcome.missed:
            found.append(f"{outcome.missed:,} missed")
        if outcome.duplicates:
            found.append(f"{outcome.duplicates:,} dup")
        if outcome.busiest_hour > self.per_hour:
            found.append(f"{outcome.busiest_hour}/h > {self.per_hour}/h")
        ratio = outcome.requests / max(1, naive.requests)
        if self.max_ratio is not None and ratio > self.max_ratio:
            found.append(f"{ratio:.2f}x > {self.max_ratio}x naive")
        if self.on_time_p99_s is not None and outcome.on_time.p99 > self.on_time_p99_s:
            found.append(f"on-time p99 > {self.on_time_p99_s:.0f} s")
        if self.late_max_s is not None and outcome.late.max > self.late_max_s:
            found.append(f"late max > {self.late_max_s:.0f} s")
        slowest = max(outcome.on_time.max, outcome.late.max)
        if self.max_delay_s is not None and slowest > self.max_delay_s:
            found.append(f"max delay > {self.max_delay_s:.0f} s")
        return found


TARGETS: dict[float, Target] = {
    4: Target(max_ratio=1.5, on_time_p99_s=60.0, late_max_s=300.0),
    20: Target(max_ratio=2.0, on_time_p99_s=60.0, late_max_s=300.0),
    40: Target(),
    60: Target(max_delay_s=3600.0),
}
BUDGET_TARGET = Target(per_hour=BUDGET_ROW[1], budgeted=True)


def _timed(work: Callable[[], Run]) -> tuple[Run, float]:
    began = time.perf_counter()
    replay = work()
    return replay, time.perf_counter() - began


def _progress(outcome: Outcome) -> None:
    print(
        f"  stream {outcome.rate:g}/s {outcome.contender}: {outcome.requests} requests, "
        f"{outcome.missed} missed, {outcome.duplicates} dup ({outcome.seconds:.1f} s)",
        file=sys.stderr,
        flush=True,
    )


def run(quick: bool = False) -> Table:
    """One stream per rate, replayed for the naive cursor (the reference the ratio is taken
    against) and the Poller; judged per Poller row, the naive rows only for comparison."""
    seconds = QUICK_SECONDS if quick else FULL_SECONDS
    rows: list[list[str]] = []
    judged: list[bool] = []
    bursts: list[str] = []
    for rate in QUICK_RATES if quick else FULL_RATES:
        stream = generate_stream(rate, seconds, random.Random(SEED + rate))
        bursts.append(f"{rate}/s at {stream.burst_at_s:.0f} s")
        contenders: list[tuple[str, Callable[[], Run], Target | None]] = [
            ("naive", partial(run_naive, stream), None),
            ("Poller", partial(run_poller, stream), TARGETS.get(rate)),
        ]
        if rate == BUDGET_ROW[0]:
            label = f"Poller, budget {BUDGET_ROW[1]}/h"
            contenders.append((label, partial(run_poller, stream, BUDGET_ROW[1]), BUDGET_TARGET))
        naive: Outcome | None = None
        for label, work, target in contenders:
            replay, wall = _timed(work)
            outcome = measure(stream, replay, label, wall)
            _progress(outcome)
            if naive is None:
                naive = outcome
            verdict = "reference" if outcome is naive else "no target"
            if target is not None:
                problems = target.failures(outcome, naive)
                judged.append(not problems)
                verdict = "FAIL: " + ", ".join(problems) if problems else "pass"
            rows.append(_row(outcome, naive, verdict))
    return Table(
        title="Live stream: Poller against a naive cursor",
        target="0 missed and 0 duplicates up to 60/s within 600 requests/h; 4/s: at most 1.5x "
        "the naive cursor's requests, on-time p99 <= 60 s, late items <= 300 s after visible; "
        "20/s: at most 2.0x, same delays; 60/s: everything delivered within the hour; "
        f"{BUDGET_ROW[0]}/s with budget_per_hour={BUDGET_ROW[1]}: 0 missed, 0 duplicates, "
        f"<= {BUDGET_ROW[1]} requests/h",
        headers=[
            "rate /s",
            "contender",
            "verdicts",
            "requests",
            "busiest hour",
            "429s",
            "vs naive",
            "live floor",
            "missed",
            "dup",
            "on-time delay p50 / p99 / max",
            "late delay p50 / p99 / max",
            "all delivered",
            "target",
        ],
        rows=rows,
        passed=all(judged),
        method=_method(seconds, bursts),
        notes=_notes(quick),
    )


def floor_ratio(outcome: Outcome, naive: Outcome) -> float:
    """The fewest requests, against the naive cursor's, of a cursor that both emits on-time
    items within one poll and loses no late item: one read a poll at least (the naive cursor's
    requests) plus every verdict read once more after it settled (``verdicts / 500`` pages), as
    a late item can be behind any of them. A target below this cannot be met on this stream."""
    settled_reads = math.ceil(outcome.verdicts / MAX_PAGE_SIZE)
    return (naive.requests + settled_reads) / max(1, naive.requests)


def _row(outcome: Outcome, naive: Outcome, verdict: str) -> list[str]:
    return [
        f"{outcome.rate:g}",
        outcome.contender,
        f"{outcome.verdicts:,}",
        f"{outcome.requests:,}",
        f"{outcome.busiest_hour:,}",
        f"{outcome.rejected:,}",
        f"{outcome.requests / max(1, naive.requests):.2f}x",
        f"{floor_ratio(outcome, naive):.2f}x",
        f"{outcome.missed:,}",
        f"{outcome.duplicates:,}",
        outcome.on_time.cell(),
        outcome.late.cell(),
        "yes" if outcome.missed == 0 else "no",
        verdict,
    ]


def _method(seconds: float, bursts: list[str]) -> list[str]:
    shape = StreamShape()
    return [
        f"Each rate is one stream of {seconds / 60:.0f} simulated minutes (seed {SEED} + rate): "
        f"Poisson arrivals averaging that many verdicts a second; {shape.tie_share:.1%} of "
        f"arrivals are batches of {shape.tie_sizes[0]}-{shape.tie_sizes[1]} verdicts sharing "
        f"one `scanned_at`; {shape.late_share:.0%} of verdicts become visible "
        f"{shape.late_seconds[0]:.0f}-{shape.late_seconds[1]:.0f} s late (uniform), the rest "
        f"within {shape.prompt_seconds} s; one burst of {shape.burst_size:,} verdicts within "
        f"{shape.burst_seconds:.0f} s ({', '.join(bursts)}).",
        "Served by `bench.simulated_api`: `GET /api/v1/verdicts` with the sandbox's rules "
        "(keyset pages on (scanned_at, id), `since` inclusive, only what is visible when the "
        "page is read, 60/min and 600/h per token, 429 with `Retry-After`), through a "
        "`requests` adapter, on a simulated clock: a request takes "
        f"{PAGE_SECONDS:g} s, a sleep takes simulated time only, nothing waits for real.",
        f"Each contender polls every {POLL_INTERVAL_S:.0f} s from the start of the stream to "
        f"{TAIL_SECONDS / 60:.0f} minutes after its end, on its own API and clock over the same "
        "stream; a poll that overruns its minute lets the ticks it covered lapse.",
        "Poller: `triggers.Poller` for `new_verdict` as `mxguard poll` builds it (page size "
        "500, in-memory cursor, the rate-budget guard of `make_poller`), the real "
        "`MxGuardClient` with its 60/min and 600/h limiter; the budget row passes "
        f"`budget_per_hour={BUDGET_ROW[1]}`.",
        "naive: `since` = newest `scanned_at` seen (inclusive), keeps items strictly newer, "
        "follows every page, waits out 429s; no limiter of its own.",
        "requests and 429s are counted by the simulated API; busiest hour is the most requests "
        "in any rolling hour. missed: verdicts visible before the end never emitted (lost, "
        "or still queued behind a backlog when the run stopped); dup: "
        "emissions beyond the first of an id. Delay: first emission minus when the verdict "
        "became visible; on-time verdicts (visible within 1.5 s) and late ones apart.",
        '60/s "everything delivered within the hour" is read as: nothing missed, and no '
        "verdict emitted more than an hour after it became visible. 83/s is shown without a "
        "target.",
    ]


def _notes(quick: bool) -> list[str]:
    notes = [
        "live floor: the naive cursor's requests plus ceil(verdicts / 500), against the "
        "naive cursor's: the fewest requests of any cursor that emits on-time verdicts within "
        "one poll (one request a poll at least, as the naive cursor makes) and misses no late "
        "one (each verdict read once more after its lateness bound has passed, since a late "
        "verdict can sit behind any other). Where a ratio target is below this floor it cannot "
        "be met on this stream; the Poller's distance to the floor is what its policy costs "
        "(pages planned 90% full, the burst read twice)."
    ]
    if not POLLER_TAKES_BUDGET:
        notes.append(
            "This Poller has no `budget_per_hour` yet: the budget row ran it with its default "
            "behaviour (600/h limiter and budget guard only) and fails for that reason."
        )
    if quick:
        notes.append(
            f"Quick run: {QUICK_SECONDS / 60:.0f}-minute streams, so the whole run is "
            f'{(QUICK_SECONDS + TAIL_SECONDS) / 60:.0f} minutes and "busiest hour" is all '
            "of it: the per-hour limits are easier to meet than in the full run."
        )
    return notes
