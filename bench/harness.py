"""A sandbox in its own process, the simulation-API calls the benchmarks need, and the poll setup.

The sandbox runs as a subprocess (the ``mxguard sandbox`` command, on 127.0.0.1 only), so its CPU
time and memory are not mixed into what is measured on the client side: with two cores, the
server and the client each get one, and neither waits for the other's GIL.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO, Any

import requests

from api_client import MxGuardClient
from connector.polling import make_poller
from sandbox.server import LOOPBACK, free_port
from sandbox.timefmt import parse_to_us
from sandbox.tokens import new_token
from triggers import Poller
from triggers.definitions import NEW_VERDICT, VerdictFilters
from triggers.store import CursorStore

RATE_PER_MINUTE = 10**7
RATE_PER_HOUR = 10**8
"""Limits high enough on both sides that the benchmarks measure the poll, not the rate limits."""
PAGE_SIZE = 500
TRAFFIC_CHUNK = 50_000
"""Verdicts per ``/_sandbox/traffic`` call: one call holds the sandbox's lock while it inserts."""
DOMAINS = ("bench-one.example", "bench-two.example", "bench-three.example")
MICROS = 1_000_000
REPO_ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Account:
    """A fresh sandbox customer: its own token, so its own request count and rate budget."""

    customer_id: str
    token_id: str
    token: str


class SandboxAdmin:
    """The ``/_sandbox/`` simulation API of one running sandbox."""

    def __init__(self, base_url: str, admin_token: str) -> None:
        self.base_url = base_url
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {admin_token}"

    def call(self, method: str, path: str, body: Any = None) -> Any:
        response = self.session.request(
            method, f"{self.base_url}/_sandbox{path}", json=body, timeout=300
        )
        if response.status_code >= 400:
            raise RuntimeError(f"{method} /_sandbox{path}: {response.status_code} {response.text}")
        return response.json() if response.content else None

    def new_account(self, name: str) -> Account:
        issued = self.call("POST", "/tokens", {"customer_name": name})
        return Account(issued["customer_id"], issued["id"], issued["token"])

    def now_us(self) -> int:
        return parse_to_us(self.call("GET", "/clock")["now"])

    def traffic(self, account: Account, count: int, spread_seconds: float, seed: int) -> None:
        """``count`` verdicts scanned over the last ``spread_seconds``, in chunks."""
        made = 0
        while made < count:
            chunk = min(TRAFFIC_CHUNK, count - made)
            body = {
                "customer_id": account.customer_id,
                "count": chunk,
                "domains": list(DOMAINS),
                "spread_seconds": spread_seconds,
                "seed": seed + made,
            }
            self.call("POST", "/traffic", body)
            made += chunk

    def close(self) -> None:
        self.session.close()

    def requests_served(self, account: Account) -> int:
        """Public API requests the sandbox has counted for this account's token."""
        by_token = self.call("GET", "/requests")["by_token"]
        counted: int = by_token.get(account.token_id, {"total": 0})["total"]
        return counted


@dataclass(frozen=True)
class Backlog:
    """An account whose verdicts all lie at or after ``start_us``, ready to be polled."""

    account: Account
    count: int
    start_us: int
    generate_seconds: float


def make_backlog(
    admin: SandboxAdmin, name: str, count: int, spread_seconds: float, seed: int
) -> Backlog:
    """A fresh account with ``count`` verdicts, and a backfill start just before the oldest."""
    account = admin.new_account(name)
    start_us = admin.now_us() - int((spread_seconds + 1) * MICROS)
    started = time.perf_counter()
    admin.traffic(account, count, spread_seconds, seed)
    return Backlog(account, count, start_us, time.perf_counter() - started)


class SandboxProcess:
    """``mxguard sandbox`` in a child process on a free loopback port; a context manager."""

    def __init__(self, startup_timeout: float = 30.0) -> None:
        self.port = free_port()
        self.token = new_token()
        self.admin_token = new_token()
        self.startup_timeout = startup_timeout
        self._process: subprocess.Popen[bytes] | None = None
        self._errors: IO[bytes] | None = None
        self._admin: SandboxAdmin | None = None

    @property
    def base_url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    def command(self) -> list[str]:
        return [
            sys.executable,
            "-c",
            "from connector.cli import entry; entry()",
            "sandbox",
            *("--host", LOOPBACK, "--port", str(self.port), "--seed", "empty"),
            *("--token", self.token, "--admin-token", self.admin_token),
            *("--rate-per-minute", str(RATE_PER_MINUTE), "--rate-per-hour", str(RATE_PER_HOUR)),
        ]

    def start(self) -> SandboxAdmin:
        """Start the server and wait until it answers; on any failure, leave nothing running."""
        self._errors = tempfile.TemporaryFile()  # noqa: SIM115 - closed by stop()
        self._process = subprocess.Popen(
            self.command(), cwd=REPO_ROOT, stdout=subprocess.DEVNULL, stderr=self._errors
        )
        self._admin = SandboxAdmin(self.base_url, self.admin_token)
        try:
            self._wait_until_ready(self._process, self._admin)
        except BaseException:
            self.stop()
            raise
        return self._admin

    def _wait_until_ready(self, process: subprocess.Popen[bytes], admin: SandboxAdmin) -> None:
        deadline = time.monotonic() + self.startup_timeout
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"the sandbox exited at start: {self._stderr()}")
            try:
                admin.call("GET", "/clock")
                return
            except requests.ConnectionError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"the sandbox did not start on {self.base_url}") from None
                time.sleep(0.05)

    def stop(self) -> None:
        if self._admin is not None:
            self._admin.close()
            self._admin = None
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if self._errors is not None:
            self._errors.close()
            self._errors = None

    def _stderr(self) -> str:
        if self._errors is None:
            return ""
        self._errors.seek(0)
        return self._errors.read().decode(errors="replace")[-2000:]

    def __enter__(self) -> SandboxAdmin:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


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
