"""The bridge's storage in PostgreSQL: any number of bridge processes, on any number of machines.

The same data and promises as ``bridge/sqlite.py`` (one transaction for a stream's cursor and its
page's outbox rows; secrets sealed with the ``SecretBox``, bound to their rows), with what several
workers need, all done by PostgreSQL itself:

* **Leases with a fence** (``acquire_lease``): a row per lease, taken or renewed by one
  ``INSERT ... ON CONFLICT DO UPDATE ... WHERE`` on the database's clock (one clock for every
  machine), its fence moved on at each takeover. ``commit`` locks the lease row (``FOR UPDATE``)
  and writes only while it is still held with the fence the writer got: a worker paused past its
  lease (a long GC, SIGSTOP, a partition) has its late commit refused, and a takeover waits for
  a commit in progress.
* **Deliveries claimed with ``SKIP LOCKED``** (``due``): a worker claims whole subscriptions for
  a while (so one subscription's items still go out in order), skipping those another worker is
  claiming at the same instant; a claim left by a worker that died expires.
* **Migrations** in a version table, set up under an advisory lock, so that several processes
  starting on an empty or older database agree; a newer database is refused, never recreated.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any

import psycopg
import psycopg_pool
from psycopg_pool import ConnectionPool

from bridge.models import (
    Delivery,
    Lease,
)
from bridge.secrets_box import SecretBox
from bridge.sql import Connection, SqlBridgeStorage, lease_lost, statements
from bridge.storage import BridgeStorageError

SCHEMA_VERSION = 3
SETUP_LOCK = 0x4D584742  # "MXGB": the advisory lock held while the schema is set up
REPORTS = """
CREATE TABLE reports (
    name TEXT PRIMARY KEY, kind TEXT NOT NULL, fingerprint TEXT NOT NULL, at BIGINT NOT NULL,
    body TEXT NOT NULL);
CREATE INDEX reports_token ON reports (kind, fingerprint);
"""
"""The console's table: each stream's and each token's last report (``record_reports``)."""
SCHEMA = (
    """
CREATE TABLE bridge_schema (version INTEGER NOT NULL);
CREATE TABLE tokens (
    fingerprint TEXT PRIMARY KEY, customer_id TEXT NOT NULL, sealed TEXT NOT NULL,
    label TEXT NOT NULL DEFAULT '', added_by TEXT NOT NULL DEFAULT 'subscription');
CREATE TABLE leases (
    name TEXT PRIMARY KEY, holder TEXT NOT NULL, fence BIGINT NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL);
CREATE TABLE settings (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE subscriptions (
    id TEXT PRIMARY KEY, seq BIGSERIAL, customer_id TEXT NOT NULL,
    token_fingerprint TEXT NOT NULL, event TEXT NOT NULL, filters TEXT NOT NULL,
    target_url TEXT NOT NULL, sealed_secret TEXT NOT NULL, description TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('active', 'failing', 'disabled')),
    failing_since BIGINT, claimed_by TEXT, claimed_until TIMESTAMPTZ);
CREATE INDEX subscriptions_customer ON subscriptions (customer_id, created_at, seq);
CREATE INDEX subscriptions_stream ON subscriptions (token_fingerprint, event);
CREATE TABLE streams (
    number BIGSERIAL PRIMARY KEY, key TEXT NOT NULL UNIQUE, floor BIGINT NOT NULL,
    watermark BIGINT NOT NULL, last_sweep BIGINT, resume_since BIGINT, resume_page TEXT,
    sweep_started BIGINT, resume_until BIGINT, rate DOUBLE PRECISION NOT NULL,
    last_poll BIGINT, spent TEXT NOT NULL);
CREATE TABLE stream_seen (
    number BIGINT NOT NULL, ts BIGINT NOT NULL, item_id TEXT NOT NULL,
    PRIMARY KEY (number, ts, item_id));
CREATE TABLE outbox (
    id BIGSERIAL PRIMARY KEY, subscription_id TEXT NOT NULL, webhook_id TEXT NOT NULL,
    event TEXT NOT NULL, item TEXT NOT NULL, timestamp BIGINT NOT NULL, item_id TEXT NOT NULL,
    created_at BIGINT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL, delivered_at BIGINT,
    UNIQUE (subscription_id, webhook_id));
CREATE INDEX outbox_pending ON outbox (subscription_id, timestamp, item_id, id)
    WHERE delivered_at IS NULL;
CREATE TABLE attempts (
    id BIGSERIAL PRIMARY KEY, delivery_id BIGINT NOT NULL, subscription_id TEXT NOT NULL,
    at BIGINT NOT NULL, status_code INTEGER, latency_ms DOUBLE PRECISION NOT NULL,
    excerpt TEXT NOT NULL, next_attempt_at BIGINT, extra TEXT NOT NULL);
CREATE INDEX attempts_subscription ON attempts (subscription_id, at, id);
"""
    + REPORTS
)
MIGRATIONS: dict[int, str] = {
    1: "CREATE TABLE settings (name TEXT PRIMARY KEY, value TEXT NOT NULL)",
    2: REPORTS,
}
"""Version -> the statements that bring a database of that version to the next one."""

CONNECT_TIMEOUT_S = 10
POOL_SIZE = 8
"""Connections per process: the API's threads, the worker, the deliveries."""
DEFAULT_CLAIM_S = 120.0
"""How long a worker's claim on a subscription's deliveries lasts: longer than a batch of
attempts takes (15 s each at worst, a few per claim), short enough that a dead worker's
subscriptions wait little."""
CLAIMED_SUBSCRIPTIONS = 20
"""Subscriptions one ``due`` call claims at most: the rest stay for other workers."""


class PostgresStorageError(BridgeStorageError):
    """The database cannot be used: unreachable, refused, of another version. The message
    names the database without its password."""


def shown_url(url: str) -> str:
    """``url`` without its password, for messages."""
    try:
        info = psycopg.conninfo.conninfo_to_dict(url)
    except psycopg.ProgrammingError:
        return "the database URL (not a valid one)"
    host, port, name = info.get("host", ""), info.get("port", ""), info.get("dbname", "")
    return f"postgresql://{host}{':' + str(port) if port else ''}/{name}"


def _password(url: str) -> str:
    try:
        return str(psycopg.conninfo.conninfo_to_dict(url).get("password") or "")
    except psycopg.ProgrammingError:
        return ""


class PostgresBridgeStorage(SqlBridgeStorage):
    """``bridge.storage.BridgeStorage`` in PostgreSQL; this process's worker is ``worker_id``."""

    PLACEHOLDER = "%s"
    ADDED_ORDER = "seq"

    def __init__(
        self,
        url: str,
        box: SecretBox,
        *,
        worker_id: str | None = None,
        claim_s: float = DEFAULT_CLAIM_S,
        pool_size: int = POOL_SIZE,
    ) -> None:
        super().__init__(box)
        self.url_shown = shown_url(url)
        self.worker_id = worker_id or f"worker-{secrets.token_hex(6)}"
        self.claim_s = claim_s
        self._lock = threading.Lock()
        self._claiming = threading.Lock()
        self._password = _password(url)
        try:  # one connection first: a clear reason at once, where the pool would retry for 30 s
            psycopg.connect(url, connect_timeout=CONNECT_TIMEOUT_S).close()
        except psycopg.Error as error:
            raise PostgresStorageError(
                f"cannot connect to {self.url_shown}: {self._hidden(error)}"
            ) from None
        try:
            self._pool = ConnectionPool(
                url,
                min_size=1,
                max_size=pool_size,
                open=False,
                name="mxguard-bridge",
                kwargs={"autocommit": True},
            )
            self._pool.open(wait=True, timeout=30)
        except (psycopg.Error, psycopg_pool.PoolTimeout) as error:
            raise PostgresStorageError(
                f"cannot connect to {self.url_shown}: {self._hidden(error)}"
            ) from None
        try:
            self._set_up()
            self.check_key()
        except BaseException:
            self._pool.close()
            raise

    def __repr__(self) -> str:
        return f"PostgresBridgeStorage({self.url_shown!r})"

    @property
    def location(self) -> str:
        return self.url_shown

    # -- plumbing ----------------------------------------------------------------------------------
    def _set_up(self) -> None:
        with self._transaction("cannot set up") as db:
            db.execute("SELECT pg_advisory_xact_lock(%s)", (SETUP_LOCK,))
            exists = db.execute("SELECT to_regclass('bridge_schema') IS NOT NULL").fetchone()
            if not (exists and exists[0]):
                others = db.execute(
                    "SELECT count(*) FROM pg_tables WHERE schemaname = current_schema() "
                    "AND tablename IN ('tokens', 'subscriptions', 'outbox', 'streams')"
                ).fetchone()
                if others and others[0]:
                    raise PostgresStorageError(
                        f"{self.url_shown} has tables named like the bridge's but no "
                        "bridge_schema: another program's? Use a database of its own."
                    )
                for statement in statements(SCHEMA):
                    db.execute(statement)
                db.execute("INSERT INTO bridge_schema VALUES (%s)", (SCHEMA_VERSION,))
                return
            row = db.execute("SELECT version FROM bridge_schema").fetchone()
            version = int(row[0]) if row else 0
            while version in MIGRATIONS:
                for statement in statements(MIGRATIONS[version]):
                    db.execute(statement)
                version += 1
            if version != SCHEMA_VERSION:
                raise PostgresStorageError(
                    f"{self.url_shown} holds a bridge database of version {version}; this "
                    f"bridge reads version {SCHEMA_VERSION} (upgrade the bridge)"
                )
            db.execute("UPDATE bridge_schema SET version = %s", (SCHEMA_VERSION,))

    def _hidden(self, error: BaseException) -> str:
        """The error's text without the password (a driver may quote the connection string)."""
        text = f"{type(error).__name__}: {str(error).strip()}"
        return text.replace(self._password, "***") if self._password else text

    def _writing(self, doing: str) -> AbstractContextManager[psycopg.Connection[Any]]:
        return self._transaction(doing)

    def _snapshot(self, doing: str) -> AbstractContextManager[psycopg.Connection[Any]]:
        return self._transaction(doing)  # a transaction that only reads takes no lock

    @contextmanager
    def _transaction(self, doing: str) -> Iterator[psycopg.Connection[Any]]:
        try:
            with self._pool.connection() as db, db.transaction():
                yield db
        except psycopg.Error as error:
            raise PostgresStorageError(f"{doing} {self.url_shown}: {self._hidden(error)}") from None

    def _read(self, sql: str, parameters: tuple[Any, ...] = ()) -> list[Any]:
        try:
            with self._pool.connection() as db:
                return db.execute(sql, parameters).fetchall()
        except psycopg.Error as error:
            raise PostgresStorageError(
                f"cannot read {self.url_shown}: {self._hidden(error)}"
            ) from None

    # -- leases ------------------------------------------------------------------------------------
    def acquire_lease(self, name: str, holder: str, ttl_s: float) -> Lease | None:
        """Take the lease when free or expired (the fence moves on when the holder changes), or
        renew it for its holder; None while another holder's runs. The database's clock
        decides, the same for every machine."""
        with self._transaction("cannot write a lease to") as db:
            row = db.execute(
                "INSERT INTO leases (name, holder, fence, expires_at) "
                "VALUES (%s, %s, 1, clock_timestamp() + make_interval(secs => %s)) "
                "ON CONFLICT (name) DO UPDATE SET "
                "fence = CASE WHEN leases.holder = excluded.holder THEN leases.fence "
                "ELSE leases.fence + 1 END, "
                "holder = excluded.holder, expires_at = excluded.expires_at "
                "WHERE leases.holder = excluded.holder OR leases.expires_at <= clock_timestamp() "
                "RETURNING fence",
                (name, holder, ttl_s),
            ).fetchone()
        return None if row is None else Lease(name=name, holder=holder, fence=int(row[0]))

    def release_lease(self, lease: Lease) -> None:
        with self._transaction("cannot release a lease in") as db:
            db.execute(
                "UPDATE leases SET expires_at = clock_timestamp() "
                "WHERE name = %s AND holder = %s AND fence = %s",
                (lease.name, lease.holder, lease.fence),
            )

    def live_leases(self, prefix: str) -> list[Lease]:
        rows = self._read(
            "SELECT name, holder, fence FROM leases WHERE left(name, %s) = %s "
            "AND expires_at > clock_timestamp() ORDER BY name",
            (len(prefix), prefix),
        )
        return [Lease(name=r[0], holder=r[1], fence=int(r[2])) for r in rows]

    def _check_lease(self, db: Connection, lease: Lease) -> None:
        """Inside the commit's transaction: the lease row locked until the commit ends, so no
        takeover can happen between this check and the writes."""
        row = db.execute(
            "SELECT holder, fence, expires_at > clock_timestamp() FROM leases "
            "WHERE name = %s FOR UPDATE",
            (lease.name,),
        ).fetchone()
        lost = lease_lost(lease, row, row is not None and bool(row[2]))
        if lost is not None:
            raise lost

    # -- the delivery workers --------------------------------------------------------------------
    def due(self, now: int, limit: int) -> list[Delivery]:
        """As ``SQLiteBridgeStorage.due``, for the subscriptions this worker claims now.

        This worker's earlier claims end; then it claims (for ``claim_s``) up to
        ``CLAIMED_SUBSCRIPTIONS`` subscriptions with something due that no other worker claims,
        skipping rows other workers are locking (``SKIP LOCKED``), and returns their due rows.
        A subscription is claimed whole, so its items keep their order across workers.
        """
        if limit <= 0:
            return []
        # one claim at a time in this process: two threads releasing the same worker's claims
        # would lock those rows in different orders (a deadlock)
        with self._claiming, self._transaction("cannot claim deliveries in") as db:
            db.execute(
                "UPDATE subscriptions SET claimed_by = NULL, claimed_until = NULL "
                "WHERE claimed_by = %s",
                (self.worker_id,),
            )
            claimed = [
                row[0]
                for row in db.execute(
                    "WITH ready AS ("
                    " SELECT s.id FROM subscriptions s"
                    " WHERE s.status != 'disabled'"
                    "  AND (s.claimed_until IS NULL OR s.claimed_until <= clock_timestamp())"
                    "  AND EXISTS (SELECT 1 FROM outbox o WHERE o.subscription_id = s.id"
                    "   AND o.delivered_at IS NULL AND o.next_attempt_at <= %s)"
                    " ORDER BY s.seq LIMIT %s FOR UPDATE SKIP LOCKED)"
                    " UPDATE subscriptions SET claimed_by = %s,"
                    "  claimed_until = clock_timestamp() + make_interval(secs => %s)"
                    " FROM ready WHERE subscriptions.id = ready.id RETURNING subscriptions.id",
                    (now, CLAIMED_SUBSCRIPTIONS, self.worker_id, self.claim_s),
                ).fetchall()
            ]
            if not claimed:
                return []
            among = "s.id = ANY(%s)"
            statement = self._sql(self.DUE.format(among=among))
            rows = db.execute(statement, (claimed, now, limit)).fetchall()
        return self._in_order(rows)

    def close(self) -> None:
        with self._lock:
            self._pool.close()
