"""Memory: the peak RSS of a poll should not grow with the backlog it reads.

The cursor promises bounded memory (``docs/delivery-guarantees.md``, item 7): only the ids inside
the look-back window are kept. Two backlogs with the same traffic density, one 20 times longer,
should need about the same memory. Each poll runs in a child process (``bench.poll_child``), so
only the poll's own process is measured, not the sandbox's or this driver's. Each poll is repeated
in a fresh process, to show that the figure is stable, and the median is kept.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from typing import Any

from bench.harness import REPO_ROOT, Backlog, bench_sandbox, make_backlog
from bench.report import Table
from sandbox.simulation import SimulationClient

FULL_SIZES, FULL_REPEATS = (10_000, 200_000), 2
QUICK_SIZES, QUICK_REPEATS = (10_000, 50_000), 2
DENSITY = 200_000 / (4 * 3600)
"""Verdicts per second of backlog (200k over four hours): the look-back window (270 s) then holds
about 3,750 ids whatever the length of the backlog."""
TOLERANCE = 0.20
CHILD_TIMEOUT = 900


@dataclass(frozen=True)
class ChildRun:
    """What ``bench.poll_child`` reports about its one poll."""

    emitted: int
    complete: bool
    seconds: float
    baseline_kib: int
    peak_kib: int
    peak_seen: int
    kept_seen: int

    @classmethod
    def from_json(cls, figures: dict[str, Any]) -> ChildRun:
        return cls(
            emitted=int(figures["emitted"]),
            complete=bool(figures["complete"]),
            seconds=float(figures["seconds"]),
            baseline_kib=int(figures["baseline_kib"]),
            peak_kib=int(figures["peak_kib"]),
            peak_seen=int(figures["peak_seen"]),
            kept_seen=int(figures["kept_seen"]),
        )


@dataclass(frozen=True)
class Outcome:
    count: int
    spread_seconds: float
    runs: list[ChildRun]

    def median(self, figure: str) -> float:
        return float(statistics.median(getattr(run, figure) for run in self.runs))

    @property
    def peak_kib(self) -> float:
        return self.median("peak_kib")

    @property
    def growth_kib(self) -> float:
        return statistics.median(run.peak_kib - run.baseline_kib for run in self.runs)

    @property
    def complete(self) -> bool:
        return all(run.complete and run.emitted == self.count for run in self.runs)


def poll_in_child(simulation: SimulationClient, backlog: Backlog) -> ChildRun:
    command = [sys.executable, "-m", "bench.poll_child", simulation.base_url, str(backlog.start_us)]
    with tempfile.TemporaryDirectory() as state_dir:
        done = subprocess.run(
            [*command, state_dir],
            cwd=REPO_ROOT,
            env={**os.environ, "MXGUARD_API_TOKEN": backlog.account.token},
            capture_output=True,
            text=True,
            timeout=CHILD_TIMEOUT,
            check=False,
        )
    if done.returncode != 0:
        raise RuntimeError(f"the poll child failed ({done.returncode}): {done.stderr[-2000:]}")
    return ChildRun.from_json(json.loads(done.stdout.strip().splitlines()[-1]))


def measure(simulation: SimulationClient, count: int, repeats: int, seed: int) -> Outcome:
    """Each repeat is a fresh process with a fresh cursor over the same backlog."""
    spread = count / DENSITY
    backlog = make_backlog(simulation, f"memory {count}", count, spread, seed)
    return Outcome(count, spread, [poll_in_child(simulation, backlog) for _ in range(repeats)])


def run(quick: bool = False) -> Table:
    sizes, repeats = (QUICK_SIZES, QUICK_REPEATS) if quick else (FULL_SIZES, FULL_REPEATS)
    with bench_sandbox() as simulation:
        outcomes = [measure(simulation, count, repeats, seed) for seed, count in enumerate(sizes)]
    small, large = outcomes[0], outcomes[-1]
    ratio = large.peak_kib / small.peak_kib
    complete = all(o.complete for o in outcomes)
    return Table(
        title="Memory: peak RSS of one poll",
        target=f"peak RSS over {large.count:,} items within {TOLERANCE:.0%} of the peak over "
        f"{small.count:,}",
        headers=[
            "items",
            "spread",
            "poll time",
            "RSS before poll",
            "peak RSS (min to max)",
            "growth during poll",
            "ids held (peak)",
            "ids kept after",
        ],
        rows=[_row(o) for o in outcomes],
        passed=ratio <= 1 + TOLERANCE and complete,
        method=[
            f"Backlogs of the same density ({DENSITY:.1f} verdicts/s, so the look-back window "
            "holds the same number of ids), each polled from its start by a fresh child "
            f"process, {repeats} times; medians shown. The child uses the typed client, the "
            "SQLite cursor store and the JSON-lines sink writing to `/dev/null`.",
            "`RSS before poll`: after imports, client setup and one warm-up page (500 items) "
            "fetched and written. `peak RSS`: the process's high-water mark (`VmHWM`; not "
            "`ru_maxrss`, which Linux carries over from the parent process) after the poll. "
            "`growth`: the difference, i.e. what the poll itself added.",
            "`ids held (peak)`: the most ids in the cursor's `seen` at any per-page commit; "
            "`ids kept after`: what the committed cursor holds once the poll finished.",
        ],
        notes=[
            f"peak RSS {large.count:,} / {small.count:,} = {ratio:.2f}; "
            f"growth {large.growth_kib / 1024:.1f} MiB vs {small.growth_kib / 1024:.1f} MiB",
            *_held_note(large),
        ]
        + ([] if complete else ["a poll did not emit every item"]),
    )


def _held_note(outcome: Outcome) -> list[str]:
    """Say so when the cursor held far more ids during the poll than its window needs."""
    held = max(run.peak_seen for run in outcome.runs)
    kept = max(run.kept_seen for run in outcome.runs)
    if held <= 2 * kept:
        return []
    return [
        f"During the {outcome.count:,}-item poll the cursor held {held:,} ids, though only "
        f"{kept:,} lie inside the look-back window: `Cursor.finish_poll` drops ids older than "
        "the window only when the poll completes, so within one poll `seen` (and the SQLite "
        "`cursor_seen` table) grow with the backlog."
    ]


def _mib(kib: float) -> str:
    return f"{kib / 1024:.1f} MiB"


def _row(outcome: Outcome) -> list[str]:
    peaks = [run.peak_kib for run in outcome.runs]
    return [
        f"{outcome.count:,}",
        f"{outcome.spread_seconds / 3600:.1f} h",
        f"{outcome.median('seconds'):.1f} s",
        _mib(outcome.median("baseline_kib")),
        f"{_mib(outcome.peak_kib)} ({_mib(min(peaks))} to {_mib(max(peaks))})",
        _mib(outcome.growth_kib),
        f"{max(run.peak_seen for run in outcome.runs):,}",
        f"{max(run.kept_seen for run in outcome.runs):,}",
    ]
