"""Run the sandbox with uvicorn: in the foreground (``mxguard sandbox``) or in a thread."""

from __future__ import annotations

import socket
import threading
import time
from types import TracebackType

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


class SandboxServer:
    """A sandbox on a loopback port in a background thread; a context manager.

    Used by the tests, the benchmarks and ``mxguard demo``: real HTTP, no subprocess.
    """

    def __init__(
        self, settings: SandboxSettings | None = None, host: str = LOOPBACK, port: int = 0
    ) -> None:
        self.settings = settings or SandboxSettings()
        self.host = host
        self.port = port or free_port(host)
        self.app = create_app(self.settings)
        config = uvicorn.Config(
            self.app,
            host=self.host,
            port=self.port,
            log_level="critical",
            access_log=False,
            lifespan="off",
            timeout_graceful_shutdown=1,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, name="mxguard-sandbox", daemon=True
        )

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def simulation(self) -> SimulationClient:
        """A client of this sandbox's ``/_sandbox/`` simulation API (close it when done)."""
        return SimulationClient(self.base_url, self.settings.admin_token)

    def start(self, timeout: float = 10.0) -> SandboxServer:
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the sandbox did not start on {self.base_url}")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=5)

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def serve_forever(settings: SandboxSettings, host: str, port: int) -> None:
    """Foreground server for ``mxguard sandbox`` (Ctrl-C stops it)."""
    uvicorn.run(create_app(settings), host=host, port=port, log_level="warning")
