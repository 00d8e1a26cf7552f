"""What the bridge's tests share: a webhook receiver on loopback (scripted statuses, what it
received), the bridge's API served in a thread, a settable clock, a resolver without DNS, and
seeded delivery attempts."""

from __future__ import annotations

import atexit
import hashlib
import os
import sqlite3
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import psycopg
import pytest

from api_client import MxGuardClient, check_token
from api_client.contract import MICROS
from bridge.delivery import Deliverer
from bridge.models import Attempt, NewDelivery, Subscription
from bridge.retry import RetrySchedule
from bridge.secrets_box import SecretBox
from bridge.service import BridgeService
from bridge.signing import new_secret
from bridge.sqlite import SQLiteBridgeStorage
from bridge.storage import BridgeStorage
from tests.postgres_server import PostgresServer
from tests.support import Account, SandboxAdmin, SandboxTime
from triggers.base import TriggerDefinition
from triggers.cursor import CursorState, SeenChanges
from triggers.polling.new_quarantined_message import TRIGGER as NEW_QUARANTINED_MESSAGE
from triggers.polling.new_verdict import TRIGGER as NEW_VERDICT

BACKEND_ENV = "MXGUARD_TEST_BRIDGE_DB"
"""``postgres``: the bridge's tests run on PostgreSQL (a server the suite starts), not SQLite."""
ON_POSTGRES = os.environ.get(BACKEND_ENV, "sqlite") == "postgres"
sqlite_only = pytest.mark.skipif(ON_POSTGRES, reason="about the SQLite file itself")

_server: PostgresServer | None = None


def postgres_server() -> PostgresServer:
    """The PostgreSQL server of this test process, started on first use, stopped at exit."""
    global _server
    if _server is None:
        _server = PostgresServer().start()
        atexit.register(_server.stop)
    return _server


def database_at(path: Path) -> str:
    """On PostgreSQL, the URL of the database that stands for ``path`` (made when missing)."""
    server = postgres_server()
    name = "t_" + hashlib.sha256(str(path).encode()).hexdigest()[:20]
    with psycopg.connect(server.dsn(), autocommit=True) as db:
        if not db.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            db.execute(f'CREATE DATABASE "{name}"')
    return server.dsn(name)


def open_storage(path: Path, box: SecretBox) -> BridgeStorage:
    """The bridge's storage "at" ``path``: that SQLite file, or, on PostgreSQL, a database of
    its own named after the path (opening the same path again opens the same database)."""
    if not ON_POSTGRES:
        return SQLiteBridgeStorage(path, box)
    from bridge.postgres import PostgresBridgeStorage

    return PostgresBridgeStorage(database_at(path), box, pool_size=4)


def raw_execute(path: Path, sql: str) -> None:
    """Run ``sql`` on the data "at" ``path`` behind the storage's back (a test tampering)."""
    if ON_POSTGRES:
        with psycopg.connect(database_at(path), autocommit=True) as db:
            db.execute(sql.encode())
        return
    plain = sqlite3.connect(path)
    with plain:
        plain.execute(sql)
    plain.close()


def stored_bytes(path: Path) -> bytes:
    """Every byte kept "at" ``path``: the SQLite file with its WAL and shared memory, or every
    row of every table of the PostgreSQL database as text."""
    if not ON_POSTGRES:
        files = sorted(path.parent.glob(path.name + "*"))
        return b"".join(p.read_bytes() for p in files if p.is_file())
    with psycopg.connect(database_at(path)) as db:
        tables = db.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"
        ).fetchall()
        rows = [
            db.execute(f'SELECT t::text FROM "{table}" t'.encode()).fetchall()
            for (table,) in tables
        ]
    return "\n".join(row[0] for table in rows for row in table).encode()


@contextmanager
def storage_at(path: Path, box: SecretBox | None = None) -> Iterator[BridgeStorage]:
    """``open_storage`` as a context (closed at the end); the box from the path's folder."""
    made = open_storage(path, box or SecretBox.from_environment(path.parent, environ={}))
    try:
        yield made
    finally:
        made.close()


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


@contextmanager
def serving(made: Receiver) -> Iterator[Receiver]:
    """``made`` listening on a free loopback port (its ``url`` set) until the block ends."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), made.handler())
    made.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield made
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with serving(Receiver()) as made:
        yield made


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


def seed_attempts(storage: BridgeStorage, stream: str, subscription_id: str, start: int) -> None:
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


SERVICE_TRIGGERS = {t.key: t for t in (NEW_VERDICT, NEW_QUARANTINED_MESSAGE)}


def service_for(
    storage: BridgeStorage,
    admin: SandboxAdmin,
    time: SandboxTime,
    triggers: Mapping[str, TriggerDefinition[Any]] = SERVICE_TRIGGERS,
) -> BridgeService:
    """The real service over ``storage``, its clients' and its own clock the sandbox's
    (``time``): a rate-limit wait moves the sandbox's time, not the test's."""

    def client(token: str) -> MxGuardClient:
        return MxGuardClient(
            token, admin.base_url, rate_limit_db=":memory:", clock=time.clock, sleep=time.sleep
        )

    def now() -> int:
        return int(time.clock() * MICROS)

    deliverer = Deliverer(
        storage, allow_private_targets=True, clock_us=now, schedule=RetrySchedule(jitter=0)
    )
    return BridgeService(
        storage, triggers=triggers, client_factory=client, deliverer=deliverer, clock_us=now
    )


def subscribe(
    storage: BridgeStorage, account: Account, token: str, event: str, target: str, n: int
) -> Subscription:
    """Subscription ``n`` of ``account`` (made with ``token``) to ``event``, written straight
    to storage with its token, as the API would."""
    fingerprint = check_token(token)
    sub = Subscription(
        id=f"sub_{n:024x}",
        customer_id=account.customer_id,
        token_fingerprint=fingerprint.fingerprint,
        event=event,
        filters={},
        target_url=target,
        secret=new_secret(),
        created_at=0,
    )
    storage.put_token(account.customer_id, fingerprint.fingerprint, token)
    storage.add_subscription(sub)
    return sub
