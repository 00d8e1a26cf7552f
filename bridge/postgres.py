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

import json
import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
import psycopg_pool
from psycopg_pool import ConnectionPool

from bridge.models import (
    Attempt,
    Delivery,
    Lease,
    NewDelivery,
    StoredToken,
    Subscription,
    SubscriptionStatus,
)
from bridge.secrets_box import SecretBox
from bridge.storage import SUBSCRIPTION, BridgeStorageError, LeaseLostError
from triggers.cursor import CursorState, SeenChanges

SCHEMA_VERSION = 1
SETUP_LOCK = 0x4D584742  # "MXGB": the advisory lock held while the schema is set up
SCHEMA = """
CREATE TABLE bridge_schema (version INTEGER NOT NULL);
CREATE TABLE tokens (
    fingerprint TEXT PRIMARY KEY, customer_id TEXT NOT NULL, sealed TEXT NOT NULL,
    label TEXT NOT NULL DEFAULT '', added_by TEXT NOT NULL DEFAULT 'subscription');
CREATE TABLE leases (
    name TEXT PRIMARY KEY, holder TEXT NOT NULL, fence BIGINT NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL);
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
MIGRATIONS: dict[int, str] = {}
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

SELECT_SUBSCRIPTIONS = (
    "SELECT id, customer_id, token_fingerprint, event, filters, target_url, sealed_secret, "
    "description, created_at, status, failing_since FROM subscriptions "
)


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


def _json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


class PostgresBridgeStorage:
    """``bridge.storage.BridgeStorage`` in PostgreSQL; this process's worker is ``worker_id``."""

    def __init__(
        self,
        url: str,
        box: SecretBox,
        *,
        worker_id: str | None = None,
        claim_s: float = DEFAULT_CLAIM_S,
        pool_size: int = POOL_SIZE,
    ) -> None:
        self.url_shown = shown_url(url)
        self.worker_id = worker_id or f"worker-{secrets.token_hex(6)}"
        self.claim_s = claim_s
        self._box = box
        self._lock = threading.Lock()
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
                for statement in _statements(SCHEMA):
                    db.execute(statement)
                db.execute("INSERT INTO bridge_schema VALUES (%s)", (SCHEMA_VERSION,))
                return
            row = db.execute("SELECT version FROM bridge_schema").fetchone()
            version = int(row[0]) if row else 0
            while version in MIGRATIONS:
                for statement in _statements(MIGRATIONS[version]):
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

    # -- tokens ------------------------------------------------------------------------------------
    def put_token(
        self,
        customer_id: str,
        fingerprint: str,
        token: str,
        *,
        label: str = "",
        added_by: str = SUBSCRIPTION,
    ) -> None:
        sealed = self._box.seal(token, context=f"token:{fingerprint}")
        with self._transaction("cannot write a token to") as db:
            db.execute(
                "INSERT INTO tokens (fingerprint, customer_id, sealed, label, added_by) "
                "VALUES (%s, %s, %s, %s, %s) "
                "ON CONFLICT (fingerprint) DO UPDATE SET customer_id = excluded.customer_id, "
                "sealed = excluded.sealed, "
                "label = CASE WHEN excluded.added_by = 'subscription' THEN tokens.label "
                "ELSE excluded.label END, "
                "added_by = CASE WHEN excluded.added_by = 'subscription' THEN tokens.added_by "
                "ELSE excluded.added_by END",
                (fingerprint, customer_id, sealed, label, added_by),
            )

    def tokens(self) -> list[StoredToken]:
        rows = self._read(
            "SELECT t.fingerprint, t.customer_id, t.label, t.added_by, "
            "(SELECT count(*) FROM subscriptions s WHERE s.token_fingerprint = t.fingerprint) "
            "FROM tokens t ORDER BY t.fingerprint"
        )
        return [
            StoredToken(
                fingerprint=r[0], customer_id=r[1], label=r[2], added_by=r[3], subscriptions=r[4]
            )
            for r in rows
        ]

    def remove_token(self, fingerprint: str) -> int | None:
        with self._transaction("cannot remove a token from") as db:
            gone = db.execute("DELETE FROM tokens WHERE fingerprint = %s", (fingerprint,))
            if not gone.rowcount:
                return None
            db.execute(
                "DELETE FROM outbox WHERE delivered_at IS NULL AND subscription_id IN "
                "(SELECT id FROM subscriptions WHERE token_fingerprint = %s)",
                (fingerprint,),
            )
            removed = db.execute(
                "DELETE FROM subscriptions WHERE token_fingerprint = %s", (fingerprint,)
            ).rowcount
        return removed

    def token(self, fingerprint: str) -> str | None:
        rows = self._read("SELECT sealed FROM tokens WHERE fingerprint = %s", (fingerprint,))
        if not rows:
            return None
        return self._box.open(rows[0][0], context=f"token:{fingerprint}")

    # -- subscriptions -----------------------------------------------------------------------------
    def add_subscription(self, subscription: Subscription) -> None:
        s = subscription
        sealed = self._box.seal(s.secret, context=f"secret:{s.id}")
        with self._transaction("cannot write a subscription to") as db:
            db.execute(
                "INSERT INTO subscriptions (id, customer_id, token_fingerprint, event, filters, "
                "target_url, sealed_secret, description, created_at, status, failing_since) "
                "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                (
                    s.id,
                    s.customer_id,
                    s.token_fingerprint,
                    s.event,
                    _json(s.filters),
                    s.target_url,
                    sealed,
                    s.description,
                    s.created_at,
                    s.status.value,
                    s.failing_since,
                ),
            )

    def _subscription(self, row: Any) -> Subscription:
        return Subscription(
            id=row[0],
            customer_id=row[1],
            token_fingerprint=row[2],
            event=row[3],
            filters=json.loads(row[4]),
            target_url=row[5],
            secret=self._box.open(row[6], context=f"secret:{row[0]}"),
            description=row[7],
            created_at=row[8],
            status=SubscriptionStatus(row[9]),
            failing_since=row[10],
        )

    def subscriptions(
        self, customer_id: str, *, target_url: str | None = None
    ) -> list[Subscription]:
        rows = self._read(
            SELECT_SUBSCRIPTIONS + "WHERE customer_id = %s "
            "AND (%s::text IS NULL OR target_url = %s) ORDER BY created_at, seq",
            (customer_id, target_url, target_url),
        )
        return [self._subscription(row) for row in rows]

    def subscription(self, customer_id: str, subscription_id: str) -> Subscription | None:
        rows = self._read(
            SELECT_SUBSCRIPTIONS + "WHERE id = %s AND customer_id = %s",
            (subscription_id, customer_id),
        )
        return self._subscription(rows[0]) if rows else None

    def subscription_for_delivery(self, subscription_id: str) -> Subscription | None:
        rows = self._read(SELECT_SUBSCRIPTIONS + "WHERE id = %s", (subscription_id,))
        return self._subscription(rows[0]) if rows else None

    def remove_subscription(self, customer_id: str, subscription_id: str) -> bool:
        with self._transaction("cannot remove a subscription from") as db:
            removed = db.execute(
                "DELETE FROM subscriptions WHERE id = %s AND customer_id = %s",
                (subscription_id, customer_id),
            ).rowcount
            if removed:
                db.execute(
                    "DELETE FROM outbox WHERE subscription_id = %s AND delivered_at IS NULL",
                    (subscription_id,),
                )
        return removed == 1

    def set_status(
        self, subscription_id: str, status: SubscriptionStatus, failing_since: int | None
    ) -> None:
        with self._transaction("cannot write a subscription's status to") as db:
            db.execute(
                "UPDATE subscriptions SET status = %s, failing_since = %s WHERE id = %s",
                (status.value, failing_since, subscription_id),
            )

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

    @staticmethod
    def _check_lease(db: psycopg.Connection[Any], lease: Lease) -> None:
        """Inside the commit's transaction: the lease row locked until the commit ends, so no
        takeover can happen between this check and the writes."""
        row = db.execute(
            "SELECT holder, fence, expires_at > clock_timestamp() FROM leases "
            "WHERE name = %s FOR UPDATE",
            (lease.name,),
        ).fetchone()
        if row is None or (row[0], int(row[1])) != (lease.holder, lease.fence):
            raise LeaseLostError(f"the lease {lease.name} was taken over; nothing written")
        if not row[2]:
            raise LeaseLostError(f"the lease {lease.name} expired; nothing written")

    # -- the pumps ---------------------------------------------------------------------------------
    def streams(self) -> list[tuple[str, str]]:
        rows = self._read(
            "SELECT DISTINCT token_fingerprint, event FROM subscriptions "
            "WHERE status != 'disabled' ORDER BY token_fingerprint, event"
        )
        return [(row[0], row[1]) for row in rows]

    def subscribers(self, fingerprint: str, event: str) -> list[Subscription]:
        rows = self._read(
            SELECT_SUBSCRIPTIONS
            + "WHERE token_fingerprint = %s AND event = %s ORDER BY created_at, seq",
            (fingerprint, event),
        )
        return [self._subscription(row) for row in rows]

    def load_cursor(self, stream: str) -> CursorState | None:
        try:
            with self._pool.connection() as db, db.transaction():
                row = db.execute(
                    "SELECT number, floor, watermark, last_sweep, resume_since, resume_page, "
                    "sweep_started, resume_until, rate, last_poll, spent "
                    "FROM streams WHERE key = %s",
                    (stream,),
                ).fetchone()
                if row is None:
                    return None
                seen = db.execute(
                    "SELECT item_id, ts FROM stream_seen WHERE number = %s", (row[0],)
                ).fetchall()
        except psycopg.Error as error:
            raise PostgresStorageError(
                f"cannot read {self.url_shown}: {self._hidden(error)}"
            ) from None
        return CursorState(
            floor=row[1],
            watermark=row[2],
            seen=dict(seen),
            last_sweep=row[3],
            resume_since=row[4],
            resume_page=row[5],
            sweep_started=row[6],
            resume_until=row[7],
            rate=row[8],
            last_poll=row[9],
            spent={int(minute): count for minute, count in json.loads(row[10]).items()},
        )

    def commit(
        self,
        stream: str,
        state: CursorState,
        changes: SeenChanges,
        deliveries: list[NewDelivery],
        lease: Lease | None = None,
    ) -> None:
        """As ``SQLiteBridgeStorage.commit``; under ``lease``, the lease row is locked and
        checked first, in the same transaction (``LeaseLostError``: nothing written)."""
        with self._transaction("cannot write the stream's cursor and outbox to") as db:
            if lease is not None:
                self._check_lease(db, lease)
            found = db.execute(
                "INSERT INTO streams (key, floor, watermark, last_sweep, resume_since, "
                "resume_page, sweep_started, resume_until, rate, last_poll, spent) "
                "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) "
                "ON CONFLICT (key) DO UPDATE SET floor = excluded.floor, "
                "watermark = excluded.watermark, last_sweep = excluded.last_sweep, "
                "resume_since = excluded.resume_since, resume_page = excluded.resume_page, "
                "sweep_started = excluded.sweep_started, resume_until = excluded.resume_until, "
                "rate = excluded.rate, last_poll = excluded.last_poll, spent = excluded.spent "
                "RETURNING number",
                (
                    stream,
                    state.floor,
                    state.watermark,
                    state.last_sweep,
                    state.resume_since,
                    state.resume_page,
                    state.sweep_started,
                    state.resume_until,
                    state.rate,
                    state.last_poll,
                    _json(state.spent),
                ),
            ).fetchone()
            assert found is not None
            number = found[0]
            with db.cursor() as cursor:
                if changes.removed_before is not None:
                    cursor.execute(
                        "DELETE FROM stream_seen WHERE number = %s AND ts < %s",
                        (number, changes.removed_before),
                    )
                cursor.executemany(
                    "INSERT INTO stream_seen VALUES (%s, %s, %s) ON CONFLICT DO NOTHING",
                    [(number, ts, item_id) for item_id, ts in changes.added.items()],
                )
                cursor.executemany(
                    "INSERT INTO outbox (subscription_id, webhook_id, event, item, timestamp, "
                    "item_id, created_at, attempts, next_attempt_at) "
                    "SELECT %s, %s, %s, %s, %s, %s, %s, 0, %s "
                    "WHERE EXISTS (SELECT 1 FROM subscriptions WHERE id = %s) "
                    "ON CONFLICT (subscription_id, webhook_id) DO NOTHING",
                    [
                        (
                            d.subscription_id,
                            d.webhook_id,
                            d.event,
                            _json(d.item),
                            d.timestamp,
                            d.item_id,
                            d.created_at,
                            d.created_at,
                            d.subscription_id,
                        )
                        for d in deliveries
                    ],
                )

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
        with self._transaction("cannot claim deliveries in") as db:
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
            rows = db.execute(
                "WITH pending AS ("
                " SELECT o.id, o.subscription_id, o.webhook_id, o.event, o.item, o.timestamp,"
                "  o.item_id, o.created_at, o.attempts, o.next_attempt_at, o.delivered_at,"
                "  s.status AS status, ROW_NUMBER() OVER ("
                "   PARTITION BY o.subscription_id ORDER BY o.timestamp, o.item_id, o.id) AS place"
                " FROM outbox o JOIN subscriptions s ON s.id = o.subscription_id"
                " WHERE o.delivered_at IS NULL AND s.id = ANY(%s))"
                " SELECT id, subscription_id, webhook_id, event, item, timestamp, item_id,"
                "  created_at, attempts, next_attempt_at, delivered_at FROM pending"
                " WHERE next_attempt_at <= %s AND (status = 'active' OR place = 1)"
                " ORDER BY place, subscription_id LIMIT %s",
                (claimed, now, limit),
            ).fetchall()
        deliveries = [_delivery(row) for row in rows]
        deliveries.sort(key=lambda d: (d.subscription_id, d.timestamp, d.item_id, d.id))
        return deliveries

    def record_attempt(self, attempt: Attempt, *, delivered: bool) -> None:
        with self._transaction("cannot write an attempt to") as db:
            db.execute(
                "INSERT INTO attempts (delivery_id, subscription_id, at, status_code, "
                "latency_ms, excerpt, next_attempt_at, extra) "
                "VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
                (
                    attempt.delivery_id,
                    attempt.subscription_id,
                    attempt.at,
                    attempt.status_code,
                    attempt.latency_ms,
                    attempt.excerpt,
                    attempt.next_attempt_at,
                    _json(attempt.extra),
                ),
            )
            if delivered:
                db.execute(
                    "UPDATE outbox SET attempts = attempts + 1, delivered_at = %s WHERE id = %s",
                    (attempt.at, attempt.delivery_id),
                )
            else:
                db.execute(
                    "UPDATE outbox SET attempts = attempts + 1, "
                    "next_attempt_at = coalesce(%s, next_attempt_at) WHERE id = %s",
                    (attempt.next_attempt_at, attempt.delivery_id),
                )

    def attempts(self, customer_id: str, subscription_id: str, limit: int) -> list[Attempt]:
        rows = self._read(
            "SELECT a.delivery_id, a.subscription_id, a.at, a.status_code, a.latency_ms, "
            "a.excerpt, a.next_attempt_at, a.extra FROM attempts a "
            "JOIN subscriptions s ON s.id = a.subscription_id "
            "WHERE a.subscription_id = %s AND s.customer_id = %s "
            "ORDER BY a.at DESC, a.id DESC LIMIT %s",
            (subscription_id, customer_id, max(0, limit)),
        )
        return [
            Attempt(
                delivery_id=row[0],
                subscription_id=row[1],
                at=row[2],
                status_code=row[3],
                latency_ms=row[4],
                excerpt=row[5],
                next_attempt_at=row[6],
                extra=json.loads(row[7]),
            )
            for row in rows
        ]

    def recover(
        self, customer_id: str, subscription_id: str, since: int, *, now: int | None = None
    ) -> int:
        with self._transaction("cannot recover a subscription in") as db:
            found = db.execute(
                "UPDATE subscriptions SET status = 'active', failing_since = NULL "
                "WHERE id = %s AND customer_id = %s",
                (subscription_id, customer_id),
            ).rowcount
            if not found:
                return 0
            count = db.execute(
                "UPDATE outbox SET next_attempt_at = coalesce(%s, created_at) "
                "WHERE subscription_id = %s AND delivered_at IS NULL AND created_at >= %s",
                (now, subscription_id, since),
            ).rowcount
        return count

    def close(self) -> None:
        with self._lock:
            self._pool.close()

    def __enter__(self) -> PostgresBridgeStorage:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _statements(script: str) -> list[str]:
    return [s for s in (part.strip() for part in script.split(";")) if s]


def _delivery(row: Any) -> Delivery:
    return Delivery(
        id=row[0],
        subscription_id=row[1],
        webhook_id=row[2],
        event=row[3],
        item=json.loads(row[4]),
        timestamp=row[5],
        item_id=row[6],
        created_at=row[7],
        attempts=row[8],
        next_attempt_at=row[9],
        delivered_at=row[10],
    )
