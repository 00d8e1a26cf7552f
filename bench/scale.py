"""The bridge on PostgreSQL with 1, 2 and 3 worker processes: many customers, one database.

An MSP runs the bridge for many customers, each with its own token and its own 600 requests an
hour. This runs the real thing on this machine: a PostgreSQL 15 server the benchmark starts
(``tests/postgres_server.py``), a sandbox in its own process as MxGuard, 200 customers each
with two subscriptions (every verdict; only what is quarantined), a webhook receiver on
127.0.0.1 in its own process answering 200, and N ``mxguard bridge serve --db ... --no-api``
processes.

Each run (N = 1, 2, 3, a fresh database each) waits until every stream has made its first poll,
publishes a wave of verdicts for every customer at once, and measures until every delivery is in:

* deliveries per second: deliveries / (last receipt - publication);
* p99 delivery latency: receipt - publication, over every delivery;
* MxGuard requests per token per hour, against the token's 600 (and the 500 a cursor plans for by
  default), and how many answers were 429 (must be none);
* fairness: the spread between customers of their median latency (slowest / fastest) and of the
  requests their tokens spent.

Nothing is asserted: a missed target is reported in the table.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import psycopg

from api_client import Secret
from api_client.contract import DEFAULT_PER_HOUR
from bench.report import Table
from bridge.models import Subscription
from bridge.postgres import PostgresBridgeStorage
from bridge.secrets_box import KEY_ENV, SecretBox
from bridge.signing import new_secret
from sandbox.launcher import SandboxProcess
from sandbox.server import free_port
from sandbox.simulation import SimulationClient
from tests.postgres_server import PostgresServer
from triggers.poller import default_budget

WORKER_COUNTS = (1, 2, 3)
FULL_CUSTOMERS = 200
QUICK_CUSTOMERS = 40
PER_CUSTOMER = 10
"""Verdicts published for each customer in the wave."""
INTERVAL_S = 5
"""The workers' ``--interval``: a stream is polled at most this often."""
LEASE_S = 30
DRAIN_TIMEOUT_S = 240
FULL_WINDOW_S = 120
QUICK_WINDOW_S = 30
"""Seconds from the wave's publication over which each token's requests are counted (the wave,
then quiet): its rate per hour, in steady state, start-up excluded."""
START_TIMEOUT_S = 240
TARGET_P99_S = 30.0
"""Latency target: within a few rounds of the interval, whatever the number of customers."""
MXGUARD = [sys.executable, "-m", "connector"]


# -- the receiver, in a process of its own (the workers' POSTs must not wait for our GIL) -------
def _receive(port: int, results: Connection, stop: Any) -> None:
    arrivals: list[tuple[float, str, str]] = []
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            body = json.loads(self.rfile.read(length))
            with lock:
                arrivals.append((time.time(), self.path, str(body["data"]["id"])))
            self.send_response(200)
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    while not stop.is_set():
        command = results.recv() if results.poll(0.2) else None
        if command == "count":
            with lock:
                results.send(len(arrivals))
        elif command == "take":
            with lock:
                results.send(list(arrivals))
    server.shutdown()


class Receiver:
    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._stop = multiprocessing.Event()
        self._pipe, child = multiprocessing.Pipe()
        self._process = multiprocessing.Process(
            target=_receive, args=(self.port, child, self._stop), daemon=True
        )
        self._process.start()

    def count(self) -> int:
        self._pipe.send("count")
        return int(self._pipe.recv())

    def take(self) -> list[tuple[float, str, str]]:
        self._pipe.send("take")
        taken: list[tuple[float, str, str]] = self._pipe.recv()
        return taken

    def close(self) -> None:
        self._stop.set()
        self._process.join(timeout=10)


# -- one run -------------------------------------------------------------------------------------
@dataclass
class Run:
    workers: int
    deliveries: int
    expected: int
    seconds: float
    p99_s: float
    median_s: float
    requests_per_token_hour: float
    max_requests_per_token_hour: float
    refused_429: int
    fastest_customer_s: float
    slowest_customer_s: float
    request_spread: float

    @property
    def per_second(self) -> float:
        return self.deliveries / self.seconds if self.seconds else 0.0


def _start_workers(count: int, dsn: str, data: Path, sandbox_url: str, key: str) -> list[Any]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MXGUARD_")}
    env.update({"MXGUARD_API_URL": sandbox_url, KEY_ENV: key})
    processes = []
    for n in range(count):
        command = [
            *MXGUARD, "bridge", "serve", "--no-api", "--db", dsn, "--data", str(data),
            "--worker-id", f"w{n + 1}", "--interval", str(INTERVAL_S), "--lease", str(LEASE_S),
            "--allow-private-targets",
        ]  # fmt: skip
        processes.append(
            subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        )
    return processes


def _stop(processes: list[Any]) -> None:
    for process in processes:
        process.send_signal(signal.SIGTERM)
    for process in processes:
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()


def _wait(check: Any, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.5)
    return False


def one_run(
    workers: int,
    customers: int,
    window_s: float,
    pg: PostgresServer,
    admin: SimulationClient,
    folder: Path,
) -> Run:
    dsn = pg.create_database(f"scale_{workers}")
    key = SecretBox.generate_key()
    receiver = Receiver()
    accounts = [admin.new_account(domains=("example.com",)) for _ in range(customers)]
    paths: dict[str, str] = {}  # receiver path -> customer
    box = SecretBox.from_environment(folder, environ={KEY_ENV: key})
    with PostgresBridgeStorage(dsn, box) as storage:
        for n, account in enumerate(accounts):
            fingerprint = Secret(account.token).fingerprint
            storage.put_token(account.customer_id, fingerprint, account.token)
            for kind, filters in (("all", {}), ("held", {"action": ["quarantined"]})):
                path = f"/{n}/{kind}"
                paths[path] = account.customer_id
                storage.add_subscription(
                    Subscription(
                        id=f"sub_{n:020x}{len(paths):04x}",
                        customer_id=account.customer_id,
                        token_fingerprint=fingerprint,
                        event="new_verdict",
                        filters=filters,
                        target_url=receiver.url + path,
                        secret=new_secret(),
                        created_at=0,
                    )
                )
    processes = _start_workers(workers, dsn, folder, admin.base_url, key)
    try:

        def settled() -> bool:
            """Every stream polled once, and the tokens shared out: each worker holds some."""
            with psycopg.connect(dsn) as db:
                row = db.execute(
                    "SELECT (SELECT count(*) FROM streams), (SELECT count(DISTINCT holder) "
                    "FROM leases WHERE name LIKE 'token:%%' AND expires_at > clock_timestamp())"
                ).fetchone()
            return row is not None and row[0] >= customers and row[1] == workers

        _wait(settled, START_TIMEOUT_S)
        time.sleep(INTERVAL_S)  # a round more: the last tokens handed over have been polled
        start_up = admin.requests_snapshot()["by_token"]
        refused_before = sum(
            start_up.get(a.token_id, {}).get("by_status", {}).get("429", 0) for a in accounts
        )
        admin.clear_requests()
        window_started = time.monotonic()
        published_at = time.time()
        expected = 0
        for n, account in enumerate(accounts):
            made = admin.traffic(account, PER_CUSTOMER, seed=n)
            expected += int(made["created"]) + int(made["quarantined"])  # the two subscriptions
        _wait(lambda: receiver.count() >= expected, DRAIN_TIMEOUT_S)
        arrivals = receiver.take()
        time.sleep(max(0.0, window_s - (time.monotonic() - window_started)))
        elapsed_h = (time.monotonic() - window_started) / 3600
        served = admin.requests_snapshot()["by_token"]
    finally:
        _stop(processes)
        receiver.close()
    latencies = sorted(max(0.0, at - published_at) for at, _, _ in arrivals)
    per_customer: dict[str, list[float]] = defaultdict(list)
    for at, path, _ in arrivals:
        per_customer[paths[path]].append(at - published_at)
    medians = [statistics.median(v) for v in per_customer.values() if v]
    tokens = {a.token_id for a in accounts}
    spent = [served.get(t, {}).get("total", 0) for t in tokens]
    refused = sum(served.get(t, {}).get("by_status", {}).get("429", 0) for t in tokens)
    refused += refused_before
    return Run(
        workers=workers,
        deliveries=len(arrivals),
        expected=expected,
        seconds=max(at for at, _, _ in arrivals) - published_at if arrivals else 0.0,
        p99_s=latencies[int(0.99 * (len(latencies) - 1))] if latencies else float("nan"),
        median_s=statistics.median(latencies) if latencies else float("nan"),
        requests_per_token_hour=statistics.mean(spent) / elapsed_h,
        max_requests_per_token_hour=max(spent) / elapsed_h,
        refused_429=refused,
        fastest_customer_s=min(medians) if medians else float("nan"),
        slowest_customer_s=max(medians) if medians else float("nan"),
        request_spread=max(spent) / max(min(spent), 1),
    )


def run(quick: bool) -> Table:
    customers = QUICK_CUSTOMERS if quick else FULL_CUSTOMERS
    window_s = QUICK_WINDOW_S if quick else FULL_WINDOW_S
    runs = []
    with (
        tempfile.TemporaryDirectory(prefix="mxguard-scale-") as tmp,
        PostgresServer() as pg,
        SandboxProcess(seed="empty") as admin,  # MxGuard's own limits: 60/min, 600/h
    ):
        for workers in WORKER_COUNTS:
            runs.append(one_run(workers, customers, window_s, pg, admin, Path(tmp)))
    budget = default_budget(DEFAULT_PER_HOUR)
    p99_ok = all(r.p99_s <= TARGET_P99_S for r in runs)
    complete = all(r.deliveries >= r.expected for r in runs)
    no_429 = all(r.refused_429 == 0 for r in runs)
    base = runs[0].per_second or 1.0
    return Table(
        title="The bridge on PostgreSQL: 1, 2 and 3 workers",
        target=f"every delivery made, no 429, p99 latency ≤ {TARGET_P99_S:.0f} s",
        headers=[
            "workers",
            "deliveries",
            "deliveries/s",
            "vs 1 worker",
            "median latency",
            "p99 latency",
            "requests/token over the window, per hour (mean, max)",
            "429s",
            "customers' median latency",
            "requests: most / fewest",
        ],
        rows=[
            [
                str(r.workers),
                f"{r.deliveries:,} of {r.expected:,}",
                f"{r.per_second:,.1f}",
                f"{r.per_second / base:.2f}",
                f"{r.median_s:.1f} s",
                f"{r.p99_s:.1f} s",
                f"{r.requests_per_token_hour:,.0f}, {r.max_requests_per_token_hour:,.0f}",
                str(r.refused_429),
                f"{r.fastest_customer_s:.1f} to {r.slowest_customer_s:.1f} s",
                f"{r.request_spread:.2f}",
            ]
            for r in runs
        ],
        passed=p99_ok and complete and no_429,
        method=[
            f"{customers} sandbox customers, each with its own token (60/min, 600/h) and two "
            "subscriptions (every verdict; quarantined only) to a receiver on 127.0.0.1 in its own "
            f"process; N `mxguard bridge serve --db ... --no-api --interval {INTERVAL_S} "
            f"--lease {LEASE_S}` processes on one PostgreSQL 15 (fsync off) on this machine; "
            "the sandbox in its own process.",
            f"Once every stream has made its first poll, {PER_CUSTOMER} verdicts are published "
            "for every customer at once; latency is receipt minus publication, deliveries/s is "
            "deliveries over the time to the last receipt.",
            f"Requests per token per hour: what the sandbox served each token over {window_s:.0f} "
            "s from the publication (the wave, then quiet; start-up excluded), scaled to an "
            f"hour; the token allows {DEFAULT_PER_HOUR} and a cursor plans for {budget:.0f}. "
            "This is a rate over a short window at the start of an hour, when the cursor may "
            "still poll at every round; over a whole hour it spends within its budget (the "
            "stream benchmark), and the database-shared limiter never lets a token pass 60 a "
            "minute or 600 an hour. 429s: answers the sandbox refused, over the whole run. "
            "Fairness: the fastest and the slowest customer's median latency, and the most / "
            "fewest requests a token spent in the window.",
        ],
        notes=[],
    )
