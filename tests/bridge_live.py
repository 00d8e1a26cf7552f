"""A real bridge for the platforms' instant-trigger tests: ``mxguard bridge serve`` as a user
starts it, in its own process, polling a sandbox and allowed to deliver to loopback receivers.

Usage::

    with LiveBridge(sandbox.base_url, tmp_path / "bridge") as bridge:
        requests.post(f"{bridge.url}/v1/subscriptions", ...)
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

import requests

from sandbox.server import free_port
from tests.bridge_support import ON_POSTGRES, database_at

MXGUARD = [sys.executable, "-m", "connector"]
START_TIMEOUT_S = 30.0


def bridge_env(sandbox_url: str, **more: str) -> dict[str, str]:
    """A bridge process's environment: MxGuard is the sandbox, and none of the caller's other
    ``MXGUARD_*`` settings leak in."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MXGUARD_")}
    return {**env, "MXGUARD_API_URL": sandbox_url, **more}


def serve_command(data: Path, *options: str) -> list[str]:
    """``mxguard bridge serve`` on ``data``, allowed to deliver to loopback receivers."""
    return [*MXGUARD, "bridge", "serve", "--data", str(data), "--allow-private-targets", *options]


def wait_for(check: Callable[[], bool], timeout: float, what: str = "the condition") -> None:
    """Until ``check()`` is true, on the real clock (a real process is being watched)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    raise AssertionError(f"{what}: not within {timeout} s")


def answers(url: str) -> bool:
    try:
        return requests.get(url, timeout=2).ok
    except requests.RequestException:
        return False


class LiveBridge:
    """``mxguard bridge serve --allow-private-targets`` on a free loopback port.

    ``interval``: seconds between the bridge's polling rounds (1: items arrive within seconds).
    ``stderr`` holds what the process wrote once it has stopped (tests check no token is in it).
    When the bridge's tests run on PostgreSQL (``tox -e pg``), it keeps its data there.
    """

    def __init__(self, sandbox_url: str, data: Path, interval: float = 1.0) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.data = data
        self.stderr = ""
        on_postgres = ["--db", database_at(data / "bridge.sqlite")] if ON_POSTGRES else []
        self._process = subprocess.Popen(
            serve_command(
                data, "--port", str(self.port), "--interval", str(interval), *on_postgres
            ),
            env=bridge_env(sandbox_url),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )

    def __enter__(self) -> LiveBridge:
        try:
            wait_for(
                lambda: self._process.poll() is None and answers(f"{self.url}/openapi.json"),
                START_TIMEOUT_S,
                f"the bridge on {self.url}",
            )
        except AssertionError:
            self.stop()
            raise AssertionError(f"the bridge did not start: {self.stderr}") from None
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.stop()

    def stop(self) -> None:
        if self._process.returncode is None:
            self._process.terminate()
            try:
                _, self.stderr = self._process.communicate(timeout=30)
            except subprocess.TimeoutExpired:
                self._process.kill()
                _, self.stderr = self._process.communicate()
