"""Run the sandbox with uvicorn: in the foreground (``mxguard sandbox``) or in a thread."""

from __future__ import annotations

import socket
import threading
import time
from types import TracebackType
from typing import Any, Self

import uvicorn

from sandbox.app import create_app
from sandbox.settings import SandboxSettings
from sandbox.simulation import SimulationClient

LOOPBACK = "127.0.0.1"


def free_port(host: str = LOOPBACK) -> int:
    with socket.socket() as probe:
        probe.bind((host, 0))
        port: int = probe.getsockname()[1]
        return port


class LoopbackServer:
    """An ASGI app on a loopback port in a background thread; a context manager.

    Real HTTP without a subprocess: the sandbox (tests, benchmarks, ``mxguard demo``) and the
    bridge's app in tests and benchmarks.
    """

    def __init__(
        self, app: Any, host: str = LOOPBACK, port: int = 0, name: str = "mxguard-server"
    ) -> None:
        self.app = app
        self.host = host
        self.port = port or free_port(host)
        self.name = name
        config = uvicorn.Config(
            app,
            host=self.host,
            port=self.port,
            log_level="critical",
            access_log=False,
            lifespan="off",
            timeout_graceful_shutdown=1,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name=name, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self, timeout: float = 10.0) -> Self:
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"{self.name} did not start on {self.base_url}")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=5)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


class SandboxServer(LoopbackServer):
    """A sandbox on a loopback port in a background thread; a context manager."""

    def __init__(
        self, settings: SandboxSettings | None = None, host: str = LOOPBACK, port: int = 0
    ) -> None:
        self.settings = settings or SandboxSettings()
        super().__init__(create_app(self.settings), host, port, name="the sandbox")

    def simulation(self) -> SimulationClient:
        """A client of this sandbox's ``/_sandbox/`` simulation API (close it when done)."""
        return SimulationClient(self.base_url, self.settings.admin_token)


def serve_forever(settings: SandboxSettings, host: str, port: int) -> None:
    """Foreground server for ``mxguard sandbox`` (Ctrl-C stops it)."""
    uvicorn.run(create_app(settings), host=host, port=port, log_level="warning")
