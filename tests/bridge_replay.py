"""Helpers for ``tests/test_bridge_guarantees.py`` (no tests here).

* ``BridgeScenarioRun``: a scenario of the shared cursor table (``tests/scenario_replay.py``)
  replayed through the bridge in process: a ``Pump`` fills the outbox of two subscriptions, a
  ``Deliverer`` sends what is due to a loopback receiver after every poll, and each arrival is
  told apart by the subscription whose secret its signature verifies with.
* ``SlowReceiver``: a webhook endpoint that answers slowly, and can hold one request open (so a
  test can kill the bridge while it is waiting for that answer).
* ``BridgeProcess``: ``mxguard bridge serve`` as a child process, started, killed and stopped.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import IO, Any

import requests

from bridge.delivery import Deliverer
from bridge.models import Subscription
from bridge.outbox import Pump
from bridge.retry import RetrySchedule
from bridge.secrets_box import SecretBox
from bridge.signing import SignatureError, new_secret, verify
from sandbox.server import free_port
from tests.bridge_support import Receiver, open_storage
from tests.scenario_replay import ScenarioRun
from tests.support import Account, SandboxAdmin
from triggers.polling.new_verdict import TRIGGER as NEW_VERDICT

MICROS = 1_000_000
DELIVERY_PASSES = 100
"""Delivery passes after one poll at most (each sends up to 500 rows): a bound, never reached."""


@dataclass(frozen=True)
class Arrival:
    """One webhook as a receiver got it."""

    subscription_id: str | None
    """The subscription whose secret the signature verifies with (None: none of them)."""
    webhook_id: str
    item_id: str
    """The item's id as the scenario names it (the run's tag taken off)."""


class BridgeScenarioRun:
    """One scenario of the shared table through a pump, the outbox and a deliverer.

    Two subscriptions of the account's token: ``everything`` (no filters) and ``phishing_only``
    (``verdict: phishing``; the table's verdicts are all ``clean``, so it must get nothing). The
    pump is the bridge's, reading as the table's trigger does: the table's page size and policy,
    no budget limit, and a backfill from T0 unless the scenario activates (``Pump`` takes none
    of these; its ``poller`` is the ``Poller`` it polls with, and they are set on it).
    """

    def __init__(
        self,
        admin: SandboxAdmin,
        account: Account,
        defaults: dict[str, Any],
        scenario: dict[str, Any],
        folder: Path,
        receiver: Receiver,
    ) -> None:
        self.run = ScenarioRun(admin, account, defaults, folder / "cursors.sqlite", scenario)
        self.receiver = receiver
        self.storage = open_storage(
            folder / "bridge.sqlite", SecretBox.from_environment(folder, environ={})
        )
        fingerprint = self.run.client.token.fingerprint
        self.everything = self._subscribe(1, fingerprint, {})
        self.phishing_only = self._subscribe(2, fingerprint, {"verdict": ["phishing"]})
        self.pump = Pump(
            self.storage,
            trigger=NEW_VERDICT,
            fingerprint=fingerprint,
            client=self.run.client,
            clock_us=self.clock_us,
            budget_per_hour=math.inf,
        )
        self.pump.poller.policy = self.run.policy
        self.pump.poller.page_size = self.run.page_size
        self.pump.poller.start_us = None if self.run.activate else self.run.t0
        self.deliverer = Deliverer(
            self.storage,
            allow_private_targets=True,
            clock_us=self.clock_us,
            schedule=RetrySchedule(jitter=0),
        )
        self.arrivals: list[Arrival] = []

    def clock_us(self) -> int:
        """The scenario's clock: T0 plus the seconds its steps advanced (the sandbox's too)."""
        return self.run.t0 + int(self.run.elapsed * MICROS)

    def _subscribe(self, number: int, fingerprint: str, filters: dict[str, Any]) -> Subscription:
        subscription = Subscription(
            id=f"sub_{number:024x}",
            customer_id=self.run.account.customer_id,
            token_fingerprint=fingerprint,
            event=NEW_VERDICT.key,
            filters=filters,
            target_url=self.receiver.url,
            secret=new_secret(),
            created_at=self.run.t0,
        )
        self.storage.add_subscription(subscription)
        return subscription

    def run_step(self, step: dict[str, Any]) -> list[Arrival]:
        """Replay one step; for a poll, what reached the receiver after it (else nothing)."""
        op = step["op"]
        if op in ("add", "add_many", "advance"):
            self.run.run_step(step)
            return []
        if op != "poll" or set(step) - {"op", "expect", "expect_requests"}:
            raise ValueError(f"a step the bridge replay does not take: {step}")
        return self.poll()

    def poll(self) -> list[Arrival]:
        """One poll of the pump, then deliveries until nothing is due."""
        self.pump.poll()
        for _ in range(DELIVERY_PASSES):
            if self.deliverer.deliver_due(500).attempted == 0:
                break
        else:
            raise AssertionError(f"still delivering after {DELIVERY_PASSES} passes")
        new = [self._arrival(got.headers, got.body) for got in self.receiver.received]
        new = new[len(self.arrivals) :]
        self.arrivals.extend(new)
        return new

    def _arrival(self, headers: dict[str, str], body: str) -> Arrival:
        lowered = {name.lower(): value for name, value in headers.items()}
        now = datetime.fromtimestamp(self.clock_us() / MICROS, UTC)
        owner = None
        for subscription in (self.everything, self.phishing_only):
            with contextlib.suppress(SignatureError):
                verify(subscription.secret, body, lowered, now=now)
                owner = subscription.id
        item_id = str(json.loads(body)["data"]["id"])
        return Arrival(owner, lowered["webhook-id"], item_id.split("_", 1)[1])

    def close(self) -> None:
        self.run.client.close()
        self.storage.close()

    def __enter__(self) -> BridgeScenarioRun:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


@dataclass(frozen=True)
class Received:
    """One request as ``SlowReceiver`` got it, in arrival order."""

    number: int
    """1 for the first request, and so on."""
    headers: dict[str, str]
    """Header names in lower case."""
    body: str
    item_id: str


class SlowReceiver:
    """A webhook endpoint on 127.0.0.1 that answers 200 ``delay_s`` after each request arrived.

    The ``hold_at``-th request (1-based) is answered only after ``release()`` (or ``hold_limit_s``,
    a bound): ``held`` is set when it arrived. Requests are recorded as they arrive, before the
    answer, so one whose sender died waiting counts as received. A context manager.
    """

    def __init__(
        self, delay_s: float = 0.3, hold_at: int | None = None, hold_limit_s: float = 60.0
    ) -> None:
        self.delay_s = delay_s
        self.hold_at = hold_at
        self.hold_limit_s = hold_limit_s
        self.held = threading.Event()
        self._release = threading.Event()
        self._lock = threading.Lock()
        self._received: list[Received] = []
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/hook"

    @property
    def received(self) -> list[Received]:
        with self._lock:
            return list(self._received)

    def release(self) -> None:
        self._release.set()

    def _record(self, headers: dict[str, str], body: str) -> Received:
        item_id = str(json.loads(body)["data"]["id"])
        with self._lock:
            got = Received(len(self._received) + 1, headers, body, item_id)
            self._received.append(got)
        return got

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                text = self.rfile.read(length).decode()
                headers = {name.lower(): value for name, value in self.headers.items()}
                got = receiver._record(headers, text)
                if got.number == receiver.hold_at:
                    receiver.held.set()
                    receiver._release.wait(receiver.hold_limit_s)
                else:
                    time.sleep(receiver.delay_s)
                with contextlib.suppress(OSError):  # the sender may have died meanwhile
                    self.send_response(200)
                    self.end_headers()
                    self.wfile.write(b"thanks")

            def log_message(self, format: str, *args: Any) -> None:
                return

        return Handler

    def __enter__(self) -> SlowReceiver:
        self._thread.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()
        self._server.shutdown()
        self._server.server_close()


def wait_for(check: Callable[[], bool], timeout: float, what: str) -> None:
    """Until ``check()`` is true, on the real clock; fails after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.05)
    raise AssertionError(f"{what}: not within {timeout} s")


class BridgeProcess:
    """``mxguard bridge serve --interval 1 --allow-private-targets`` on a data folder, against
    ``api_url``; each start on a fresh port, its standard error appended to ``log``."""

    def __init__(self, api_url: str, data: Path, log: Path) -> None:
        self.api_url = api_url
        self.data = data
        self.log = log
        self.url = ""
        self._process: subprocess.Popen[bytes] | None = None
        self._log_file: IO[bytes] | None = None

    def start(self, timeout: float = 30.0) -> None:
        assert self._process is None, "already running"
        port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("MXGUARD_")}
        env["MXGUARD_API_URL"] = self.api_url
        self._log_file = self.log.open("ab")
        self._process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "connector",
                "bridge",
                "serve",
                "--port",
                str(port),
                "--data",
                str(self.data),
                "--interval",
                "1",
                "--allow-private-targets",
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=self._log_file,
        )
        self.url = f"http://127.0.0.1:{port}"
        process = self._process

        def ready() -> bool:
            if process.poll() is not None:
                raise AssertionError(
                    f"the bridge exited with {process.returncode}: {self.errors()}"
                )
            try:
                return requests.get(f"{self.url}/openapi.json", timeout=2).ok
            except requests.RequestException:
                return False

        wait_for(ready, timeout, "the bridge's API answering")

    def kill(self) -> None:
        """SIGKILL: no handler runs, nothing is flushed or closed."""
        self._end(signal.SIGKILL)

    def stop(self) -> None:
        """SIGTERM, then SIGKILL if it has not exited within 30 s."""
        self._end(signal.SIGTERM)

    def _end(self, how: signal.Signals) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        try:
            process.send_signal(how)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=30)
        finally:
            if self._log_file is not None:
                self._log_file.close()
                self._log_file = None

    def errors(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def pumping(self) -> bool:
        """Whether a pump has made its first poll (a stream's cursor is in the database): from
        then on, what the stream publishes is delivered."""
        path = self.data / "bridge.sqlite"
        if not path.exists():
            return False
        try:
            with contextlib.closing(sqlite3.connect(path, timeout=5)) as db:
                return bool(db.execute("SELECT count(*) FROM streams").fetchone()[0])
        except sqlite3.Error:
            return False

    def __enter__(self) -> BridgeProcess:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.kill()
