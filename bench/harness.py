"""The benchmarks' sandbox (in its own process), its backlogs, and the poll setup.

The sandbox runs as a subprocess (``sandbox.launcher.SandboxProcess``, on 127.0.0.1 only) and is
driven through the shared ``sandbox.simulation.SimulationClient``, so its CPU time and memory are
not mixed into what is measured on the client side: with two cores, the server and the client
each get one, and neither waits for the other's GIL.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from api_client import MxGuardClient
from api_client.contract import MAX_PAGE_SIZE, MICROS
from connector.polling import make_poller
from sandbox.launcher import SandboxProcess
from sandbox.simulation import SandboxAccount, SimulationClient
from triggers import Poller
from triggers.polling.new_verdict import TRIGGER as NEW_VERDICT
from triggers.polling.new_verdict import VerdictFilters
from triggers.store import CursorStore

RATE_PER_MINUTE = 10**7
RATE_PER_HOUR = 10**8
"""Limits high enough on both sides that the benchmarks measure the poll, not the rate limits."""
PAGE_SIZE = MAX_PAGE_SIZE
TRAFFIC_CHUNK = 50_000
"""Verdicts per ``/_sandbox/traffic`` call: one call holds the sandbox's lock while it inserts."""
DOMAINS = ("bench-one.example", "bench-two.example", "bench-three.example")
REPO_ROOT = Path(__file__).resolve().parent.parent


def bench_sandbox() -> SandboxProcess:
    """A sandbox in a child process with no data and rate limits that never bite."""
    return SandboxProcess(
        seed="empty", rate_per_minute=RATE_PER_MINUTE, rate_per_hour=RATE_PER_HOUR
    )


def add_traffic(
    simulation: SimulationClient,
    account: SandboxAccount,
    count: int,
    spread_seconds: float,
    seed: int,
) -> None:
    """``count`` verdicts scanned over the last ``spread_seconds``, in chunks."""
    made = 0
    while made < count:
        chunk = min(TRAFFIC_CHUNK, count - made)
        simulation.traffic(
            account,
            chunk,
            domains=list(DOMAINS),
            spread_seconds=spread_seconds,
            seed=seed + made,
        )
        made += chunk


@dataclass(frozen=True)
class Backlog:
    """An account whose verdicts all lie at or after ``start_us``, ready to be polled."""

    account: SandboxAccount
    count: int
    start_us: int
    generate_seconds: float


def make_backlog(
    simulation: SimulationClient, name: str, count: int, spread_seconds: float, seed: int
) -> Backlog:
    """A fresh account with ``count`` verdicts, and a backfill start just before the oldest."""
    account = simulation.new_account(name)
    start_us = simulation.now_us() - int((spread_seconds + 1) * MICROS)
    started = time.perf_counter()
    add_traffic(simulation, account, count, spread_seconds, seed)
    return Backlog(account, count, start_us, time.perf_counter() - started)


def bench_client(base_url: str, token: str | None = None) -> MxGuardClient:
    """A client whose own rate limiter never waits (the token default: ``$MXGUARD_API_TOKEN``)."""
    return MxGuardClient(
        token,
        base_url,
        per_minute=RATE_PER_MINUTE,
        per_hour=RATE_PER_HOUR,
        rate_limit_db=":memory:",
    )


def verdict_poller(client: MxGuardClient, store: CursorStore, start_us: int) -> Poller:
    """The ``new_verdict`` trigger as ``mxguard poll`` builds it, backfilling from ``start_us``."""
    return make_poller(
        NEW_VERDICT,
        client,
        VerdictFilters(),
        store,
        key=NEW_VERDICT.key,
        start_us=start_us,
        page_size=PAGE_SIZE,
    )


def null_stream() -> IO[str]:
    """A real file that discards what is written: the sink still serialises and flushes."""
    return open(os.devnull, "w", encoding="utf-8")
