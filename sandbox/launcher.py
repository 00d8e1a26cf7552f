"""A sandbox in a child process, on a free loopback port; a context manager.

``SandboxServer`` runs the sandbox in a thread of the calling process; this runs it in a process
of its own, so its CPU time and memory are not mixed into the caller's (the benchmarks), or so it
outlives what a test restarts (the real-n8n tests). ``start`` waits until the simulation API
answers and hands back a ``SimulationClient`` for it; on any failure, nothing is left running.

The child runs ``python -m sandbox.launcher`` (the same server as ``mxguard sandbox``, without the
command line's banner).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import IO

import requests

from sandbox.server import LOOPBACK, free_port
from sandbox.simulation import SimulationClient
from sandbox.tokens import new_token

PACKAGE_ROOT = Path(__file__).resolve().parent.parent
"""Where the child starts, so that it imports the same ``sandbox`` package as the parent."""


class SandboxProcess:
    """The sandbox in a child process on 127.0.0.1; ``with SandboxProcess() as simulation:``."""

    def __init__(
        self,
        *,
        seed: str = "empty",
        token: str | None = None,
        admin_token: str | None = None,
        rate_per_minute: int | None = None,
        rate_per_hour: int | None = None,
        port: int = 0,
        log: Path | None = None,
        startup_timeout: float = 30.0,
    ) -> None:
        self.host = LOOPBACK
        self.port = port or free_port()
        self.seed = seed
        self.token = token or new_token()
        """The first customer's token (with ``seed="empty"`` that customer has no data)."""
        self.admin_token = admin_token or new_token()
        self.rate_per_minute = rate_per_minute
        self.rate_per_hour = rate_per_hour
        """Per-token rate limits; None: the documented ones (``SandboxSettings``' defaults)."""
        self.log = log
        """A file for the child's output (stdout and stderr); default: stderr kept for errors."""
        self.startup_timeout = startup_timeout
        self._process: subprocess.Popen[bytes] | None = None
        self._output: IO[bytes] | None = None
        self._simulation: SimulationClient | None = None

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def simulation(self) -> SimulationClient:
        """The client of the running sandbox's simulation API."""
        if self._simulation is None:
            raise RuntimeError("the sandbox process is not running")
        return self._simulation

    def command(self) -> list[str]:
        command = [
            sys.executable,
            "-m",
            "sandbox.launcher",
            *("--host", self.host, "--port", str(self.port), "--seed", self.seed),
            *("--token", self.token, "--admin-token", self.admin_token),
        ]
        if self.rate_per_minute is not None:
            command += ["--rate-per-minute", str(self.rate_per_minute)]
        if self.rate_per_hour is not None:
            command += ["--rate-per-hour", str(self.rate_per_hour)]
        return command

    def start(self) -> SimulationClient:
        """Start the server and wait until it answers; on any failure, leave nothing running."""
        if self.log is not None:
            self._output = self.log.open("wb")
            stdout: int | IO[bytes] = self._output
        else:
            self._output = tempfile.TemporaryFile()  # noqa: SIM115 - closed by stop()
            stdout = subprocess.DEVNULL
        try:
            self._process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
                self.command(),
                cwd=PACKAGE_ROOT,
                stdout=stdout,
                stderr=subprocess.STDOUT if self.log is not None else self._output,
            )
            self._simulation = SimulationClient(self.base_url, self.admin_token)
            self._wait_until_ready(self._process, self._simulation)
        except BaseException:
            self.stop()
            raise
        return self._simulation

    def _wait_until_ready(self, process: subprocess.Popen[bytes], client: SimulationClient) -> None:
        deadline = time.monotonic() + self.startup_timeout
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"the sandbox exited at start: {self._output_tail()}")
            try:
                client.now()
                return
            except requests.ConnectionError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"the sandbox did not start on {self.base_url}") from None
                time.sleep(0.05)

    def stop(self) -> None:
        """Stop the child (terminate, then kill after 10 s); safe to call more than once."""
        if self._simulation is not None:
            self._simulation.close()
            self._simulation = None
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if self._output is not None:
            self._output.close()
            self._output = None

    def _output_tail(self) -> str:
        if self.log is not None:
            return self.log.read_bytes().decode(errors="replace")[-2000:]
        if self._output is None:
            return ""
        self._output.seek(0)
        return self._output.read().decode(errors="replace")[-2000:]

    def __enter__(self) -> SimulationClient:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def main(argv: Sequence[str] | None = None) -> None:
    """The child's entry point: serve in the foreground until terminated."""
    from sandbox.server import serve_forever
    from sandbox.settings import SandboxSettings

    parser = argparse.ArgumentParser(prog="python -m sandbox.launcher")
    parser.add_argument("--host", default=LOOPBACK)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--seed", choices=("demo", "empty"), default="empty")
    parser.add_argument("--token", required=True)
    parser.add_argument("--admin-token", required=True)
    parser.add_argument("--rate-per-minute", type=int)
    parser.add_argument("--rate-per-hour", type=int)
    args = parser.parse_args(argv)
    limits = {
        name: getattr(args, name)
        for name in ("rate_per_minute", "rate_per_hour")
        if getattr(args, name) is not None
    }
    settings = SandboxSettings(
        seed=args.seed, token=args.token, admin_token=args.admin_token, **limits
    )
    serve_forever(settings, args.host, args.port)


if __name__ == "__main__":
    main()
