"""What the bridge's tests share: a webhook receiver on loopback (scripted statuses, what it
received), the bridge's API served in a thread, a settable clock, a resolver without DNS, and
seeded delivery attempts."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import uvicorn

from api_client.contract import MICROS
from bridge.models import Attempt, NewDelivery
from bridge.sqlite import SQLiteBridgeStorage
from sandbox.server import LOOPBACK, free_port
from triggers.cursor import CursorState, SeenChanges


@dataclass
class Received:
    headers: dict[str, str]
    body: str


@dataclass
class Receiver:
    """A webhook endpoint on 127.0.0.1 answering the scripted statuses, then 200."""

    script: list[int] = field(default_factory=list)
    received: list[Received] = field(default_factory=list)
    extra_headers: dict[str, str] = field(default_factory=dict)
    url: str = ""

    def handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                text = self.rfile.read(length).decode()
                receiver.received.append(Received(dict(self.headers.items()), text))
                status = receiver.script.pop(0) if receiver.script else 200
                self.send_response(status)
                for name, value in receiver.extra_headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(b"thanks" if status < 300 else b"not now")

            def log_message(self, format: str, *args: Any) -> None:
                return

        return Handler


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    made = Receiver()
    server = ThreadingHTTPServer(("127.0.0.1", 0), made.handler())
    made.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield made
    server.shutdown()
    server.server_close()


PUBLIC_ADDRESS = "93.184.215.14"


def public_resolver(host: str, port: int) -> list[str]:
    """Every name resolves to one public address (no DNS in tests)."""
    return [PUBLIC_ADDRESS]


class Clock:
    """A clock in microseconds that a test sets (the bridge's ``clock_us``)."""

    def __init__(self, now: int) -> None:
        self.now = now

    def __call__(self) -> int:
        return self.now


class BridgeServer:
    """The bridge's app on a loopback port in a thread, as ``SandboxServer`` runs the sandbox."""

    def __init__(self, app: Any) -> None:
        self.port = free_port()
        config = uvicorn.Config(
            app,
            host=LOOPBACK,
            port=self.port,
            log_level="critical",
            access_log=False,
            lifespan="off",
            timeout_graceful_shutdown=1,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name="bridge-api", daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    def start(self, timeout: float = 10.0) -> BridgeServer:
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the bridge did not start on {self.base_url}")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=5)


def seed_attempts(
    storage: SQLiteBridgeStorage, stream: str, subscription_id: str, start: int
) -> None:
    """Two queued deliveries of the subscription: the first failed twice (a 500, then no
    answer), the second succeeded; times from ``start`` (µs)."""
    rows = [
        NewDelivery(
            subscription_id=subscription_id,
            webhook_id=f"msg_{subscription_id}_{n}",
            event="new_verdict",
            item={"id": f"vrd_{n}"},
            timestamp=start - 60 * MICROS + n,
            item_id=f"vrd_{n}",
            created_at=start + n * MICROS,
        )
        for n in (1, 2)
    ]
    storage.commit(stream, CursorState.starting_at(0), SeenChanges(), rows)
    due = [
        row
        for row in storage.due(start + 10 * MICROS, 100)
        if row.subscription_id == subscription_id
    ]
    first, second = (row.id for row in sorted(due, key=lambda row: row.item_id))
    for delivery_id, at, status, excerpt, retry_at, delivered in [
        (first, start + 11 * MICROS, 500, "boom", start + 16 * MICROS, False),
        (second, start + 12 * MICROS, 200, "ok", None, True),
        (first, start + 17 * MICROS, None, "connection refused", start + 317 * MICROS, False),
    ]:
        storage.record_attempt(
            Attempt(
                delivery_id=delivery_id,
                subscription_id=subscription_id,
                at=at,
                status_code=status,
                latency_ms=12.5,
                excerpt=excerpt,
                next_attempt_at=retry_at,
            ),
            delivered=delivered,
        )
