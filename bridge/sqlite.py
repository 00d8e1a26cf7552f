"""The bridge's storage in one SQLite file: the embedded default (one command, no server).

Everything the bridge keeps lives in one file so that the cursor of a stream and the outbox rows
of its page are written in one transaction (``commit``): a crash at any instant leaves both or
neither, and the page is read again. Conventions are those of ``connector/cursor_store.py``: WAL
mode (the API reads while a pump commits), a lock beside the file while the schema is set up (so
several processes opening a new file never see it half made), migrations by ``PRAGMA
user_version``, and typed errors naming the path.

Secrets are sealed with the ``SecretBox`` before they reach the file: the customers' tokens (the
bridge polls with them) and the subscriptions' signing secrets (whoever has one can forge the
bridge's webhooks). Each is bound to its row (the fingerprint, the subscription id), so a sealed
value copied onto another row does not open. The file itself is made private (mode 0600): it
holds the items delivered, which are the customers' mail data.

One process, several threads: one connection shared under a lock (SQLite's connection is not
safe for concurrent use, and the work per call is short). Several processes on one file are
safe for the data (SQLite's locks) but are not what it is for: that is the PostgreSQL storage.
"""

from __future__ import annotations

import json
import os
import sqlite3
import stat
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout

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

APPLICATION_ID = 0x4D584742
"""``PRAGMA application_id`` of a bridge file ("MXGB"): another program's SQLite file, or a
trigger cursor file, is refused rather than written into."""
SCHEMA_VERSION = 2
SCHEMA = """
CREATE TABLE tokens (
    fingerprint TEXT PRIMARY KEY, customer_id TEXT NOT NULL, sealed TEXT NOT NULL,
    label TEXT NOT NULL DEFAULT '', added_by TEXT NOT NULL DEFAULT 'subscription');
CREATE TABLE leases (
    name TEXT PRIMARY KEY, holder TEXT NOT NULL, fence INTEGER NOT NULL,
    expires_at REAL NOT NULL);
CREATE TABLE subscriptions (
    id TEXT PRIMARY KEY, customer_id TEXT NOT NULL, token_fingerprint TEXT NOT NULL,
    event TEXT NOT NULL, filters TEXT NOT NULL, target_url TEXT NOT NULL,
    sealed_secret TEXT NOT NULL, description TEXT NOT NULL, created_at INTEGER NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('active', 'failing', 'disabled')),
    failing_since INTEGER);
CREATE INDEX subscriptions_customer ON subscriptions (customer_id, created_at);
CREATE INDEX subscriptions_stream ON subscriptions (token_fingerprint, event);
CREATE TABLE streams (
    number INTEGER PRIMARY KEY, key TEXT NOT NULL UNIQUE, floor INTEGER NOT NULL,
    watermark INTEGER NOT NULL, last_sweep INTEGER, resume_since INTEGER, resume_page TEXT,
    sweep_started INTEGER, resume_until INTEGER, rate REAL NOT NULL, last_poll INTEGER,
    spent TEXT NOT NULL);
CREATE TABLE stream_seen (
    number INTEGER NOT NULL, ts INTEGER NOT NULL, item_id TEXT NOT NULL,
    PRIMARY KEY (number, ts, item_id)) WITHOUT ROWID;
CREATE TABLE outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT, subscription_id TEXT NOT NULL,
    webhook_id TEXT NOT NULL, event TEXT NOT NULL, item TEXT NOT NULL,
    timestamp INTEGER NOT NULL, item_id TEXT NOT NULL, created_at INTEGER NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0, next_attempt_at INTEGER NOT NULL,
    delivered_at INTEGER,
    UNIQUE (subscription_id, webhook_id));
CREATE INDEX outbox_pending ON outbox (subscription_id, timestamp, item_id, id)
    WHERE delivered_at IS NULL;
CREATE TABLE attempts (
    id INTEGER PRIMARY KEY AUTOINCREMENT, delivery_id INTEGER NOT NULL,
    subscription_id TEXT NOT NULL, at INTEGER NOT NULL, status_code INTEGER,
    latency_ms REAL NOT NULL, excerpt TEXT NOT NULL, next_attempt_at INTEGER,
    extra TEXT NOT NULL);
CREATE INDEX attempts_subscription ON attempts (subscription_id, at, id);
"""
"""Outbox and attempt ids are AUTOINCREMENT: an id is never reused after rows are removed, so
an attempt always names the delivery it was made for."""
MIGRATIONS: dict[int, str] = {
    1: """
ALTER TABLE tokens ADD COLUMN label TEXT NOT NULL DEFAULT '';
ALTER TABLE tokens ADD COLUMN added_by TEXT NOT NULL DEFAULT 'subscription';
CREATE TABLE leases (
    name TEXT PRIMARY KEY, holder TEXT NOT NULL, fence INTEGER NOT NULL,
    expires_at REAL NOT NULL);
""",
}
"""Version -> the statements that bring a file of that version to the next one."""

SETUP_ATTEMPTS = 50
"""``PRAGMA journal_mode=WAL`` answers "locked" without waiting while another process holds the
file; setting up retries that many times, 0.1 s apart."""
SETUP_LOCK_WAIT_S = 30.0
BUSY_TIMEOUT_S = 30.0

SELECT_SUBSCRIPTIONS = (
    "SELECT id, customer_id, token_fingerprint, event, filters, target_url, sealed_secret, "
    "description, created_at, status, failing_since FROM subscriptions "
)
"""The columns ``_subscription`` reads, in its order."""


class BridgeStorageFileError(BridgeStorageError):
    """The path is not (and cannot become) a bridge file: a folder, another program's database,
    a file cut short, a folder that cannot be written."""


def _json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _run_script(db: sqlite3.Connection, script: str) -> None:
    """The statements of ``script`` inside the open transaction (``executescript`` would commit
    it first)."""
    for statement in script.split(";"):
        if statement.strip():
            db.execute(statement)


def _check_path(path: Path) -> None:
    """Refuse, before anything is written, a path that cannot hold a bridge file."""
    parent = path.parent
    if not parent.is_dir():
        raise BridgeStorageFileError(f"cannot use {path}: {parent} is not a folder")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise BridgeStorageFileError(f"cannot use {path}: its folder {parent} is not writable")
    if not path.exists():
        return
    info = path.stat()
    if not stat.S_ISREG(info.st_mode):
        raise BridgeStorageFileError(f"{path} is not a regular file")
    if info.st_size == 0:
        raise BridgeStorageFileError(
            f"{path} is empty: a bridge file never is, so it was probably cut short; restore it"
        )
    with path.open("rb") as file:
        if file.read(16) != b"SQLite format 3\x00":
            raise BridgeStorageFileError(f"{path} is not a bridge file; move it away")


class SQLiteBridgeStorage:
    """``bridge.storage.BridgeStorage`` in one SQLite file; secrets sealed with ``box``."""

    def __init__(
        self, path: Path, box: SecretBox, *, clock: Callable[[], float] = time.time
    ) -> None:
        self.path = Path(path)
        self._box = box
        self._clock = clock
        self._lock = threading.RLock()
        _check_path(self.path)
        setup = FileLock(f"{self.path}.lock", timeout=SETUP_LOCK_WAIT_S)
        try:
            with setup:
                _check_path(self.path)
                new = not self.path.exists()
                self._db = sqlite3.connect(
                    str(self.path),
                    timeout=BUSY_TIMEOUT_S,
                    isolation_level=None,
                    check_same_thread=False,
                )
                try:
                    if new:  # before anything is written; the -wal and -shm files follow it
                        os.chmod(self.path, 0o600)
                    self._set_up()
                except BaseException:
                    self._db.close()
                    raise
        except sqlite3.Error as error:
            raise self._error("cannot open", error) from None
        except Timeout:
            raise BridgeStorageError(f"{self.path} stayed locked by another process") from None
        except OSError as error:
            raise BridgeStorageFileError(f"cannot open {self.path}: {error.strerror}") from None

    def __repr__(self) -> str:
        return f"SQLiteBridgeStorage({str(self.path)!r})"

    @property
    def location(self) -> str:
        return str(self.path)

    def _set_up(self) -> None:
        """Journal mode, then schema and version in one transaction: several processes opening
        a new file at once all see either no tables or the finished schema."""
        for attempt in range(SETUP_ATTEMPTS):
            try:
                self._db.execute("PRAGMA journal_mode=WAL")
                break
            except sqlite3.OperationalError as error:
                if "locked" not in str(error) or attempt == SETUP_ATTEMPTS - 1:
                    raise
                time.sleep(0.1)
        self._db.execute("PRAGMA synchronous=NORMAL")
        with self._transaction() as db:
            version = db.execute("PRAGMA user_version").fetchone()[0]
            application = db.execute("PRAGMA application_id").fetchone()[0]
            tables = db.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
            if version == 0 and application == 0 and tables == 0:
                _run_script(db, SCHEMA)
                db.execute(f"PRAGMA application_id = {APPLICATION_ID}")
                version = SCHEMA_VERSION
            elif application != APPLICATION_ID:
                raise BridgeStorageFileError(f"{self.path} is not a bridge file; move it away")
            while version in MIGRATIONS:
                _run_script(db, MIGRATIONS[version])
                version += 1
            if version != SCHEMA_VERSION:
                raise BridgeStorageFileError(
                    f"{self.path} is a bridge file of another version ({version}); this bridge "
                    f"reads version {SCHEMA_VERSION}"
                )
            db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    # -- plumbing ----------------------------------------------------------------------------------
    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction: committed when the block ends, rolled back when it raises
        (unless SQLite already rolled it back, as it does on a full disk)."""
        with self._lock:
            db = self._db
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
            except BaseException:
                if db.in_transaction:
                    db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")

    @contextmanager
    def _writing(self, doing: str) -> Iterator[sqlite3.Connection]:
        """A write transaction whose SQLite errors become ``BridgeStorageError``s."""
        try:
            with self._transaction() as db:
                yield db
        except sqlite3.Error as error:
            raise self._error(doing, error) from None

    def _read(self, sql: str, parameters: tuple[Any, ...] = ()) -> list[Any]:
        try:
            with self._lock:
                return self._db.execute(sql, parameters).fetchall()
        except sqlite3.Error as error:
            raise self._error("cannot read", error) from None

    def _error(self, doing: str, error: sqlite3.Error) -> BridgeStorageError:
        cause = str(error)
        if "readonly" in cause or "read-only" in cause:
            return BridgeStorageFileError(
                f"{doing} {self.path}: the file or its folder is read-only"
            )
        if "unable to open" in cause:
            return BridgeStorageFileError(f"{doing} {self.path}: {cause}")
        if "not a database" in cause:
            return BridgeStorageFileError(f"{self.path} is not a bridge file; move it away")
        return BridgeStorageError(f"{doing} {self.path}: {cause}")

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
        """Keep (or replace) a customer's token, sealed, under its fingerprint; an operator's
        label and ``added_by`` stay when a subscription's call brings the token again."""
        sealed = self._box.seal(token, context=f"token:{fingerprint}")
        with self._writing("cannot write a token to") as db:
            db.execute(
                "INSERT INTO tokens (fingerprint, customer_id, sealed, label, added_by) "
                "VALUES (?, ?, ?, ?, ?) "
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
        with self._writing("cannot remove a token from") as db:
            if not db.execute("DELETE FROM tokens WHERE fingerprint = ?", (fingerprint,)).rowcount:
                return None
            db.execute(
                "DELETE FROM outbox WHERE delivered_at IS NULL AND subscription_id IN "
                "(SELECT id FROM subscriptions WHERE token_fingerprint = ?)",
                (fingerprint,),
            )
            removed: int = db.execute(
                "DELETE FROM subscriptions WHERE token_fingerprint = ?", (fingerprint,)
            ).rowcount
        return removed

    def token(self, fingerprint: str) -> str | None:
        """The token with this fingerprint, opened; None when unknown. ``WrongKeyError`` when
        the box's key is not the one it was sealed with."""
        rows = self._read("SELECT sealed FROM tokens WHERE fingerprint = ?", (fingerprint,))
        if not rows:
            return None
        return self._box.open(rows[0][0], context=f"token:{fingerprint}")

    # -- subscriptions -----------------------------------------------------------------------------
    def add_subscription(self, subscription: Subscription) -> None:
        s = subscription
        sealed = self._box.seal(s.secret, context=f"secret:{s.id}")
        with self._writing("cannot write a subscription to") as db:
            db.execute(
                "INSERT INTO subscriptions (id, customer_id, token_fingerprint, event, filters, "
                "target_url, sealed_secret, description, created_at, status, failing_since) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
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
        """The customer's subscriptions, oldest first (then in the order they were added)."""
        rows = self._read(
            SELECT_SUBSCRIPTIONS + "WHERE customer_id = ? "
            "AND (? IS NULL OR target_url = ?) ORDER BY created_at, rowid",
            (customer_id, target_url, target_url),
        )
        return [self._subscription(row) for row in rows]

    def subscription(self, customer_id: str, subscription_id: str) -> Subscription | None:
        rows = self._read(
            SELECT_SUBSCRIPTIONS + "WHERE id = ? AND customer_id = ?",
            (subscription_id, customer_id),
        )
        return self._subscription(rows[0]) if rows else None

    def subscription_for_delivery(self, subscription_id: str) -> Subscription | None:
        rows = self._read(SELECT_SUBSCRIPTIONS + "WHERE id = ?", (subscription_id,))
        return self._subscription(rows[0]) if rows else None

    def remove_subscription(self, customer_id: str, subscription_id: str) -> bool:
        """Drop it and its undelivered outbox rows (nothing will send them); delivered rows and
        attempts stay, as history."""
        with self._writing("cannot remove a subscription from") as db:
            removed = db.execute(
                "DELETE FROM subscriptions WHERE id = ? AND customer_id = ?",
                (subscription_id, customer_id),
            ).rowcount
            if removed:
                db.execute(
                    "DELETE FROM outbox WHERE subscription_id = ? AND delivered_at IS NULL",
                    (subscription_id,),
                )
        return removed == 1

    def set_status(
        self, subscription_id: str, status: SubscriptionStatus, failing_since: int | None
    ) -> None:
        with self._writing("cannot write a subscription's status to") as db:
            db.execute(
                "UPDATE subscriptions SET status = ?, failing_since = ? WHERE id = ?",
                (status.value, failing_since, subscription_id),
            )

    # -- leases ------------------------------------------------------------------------------------
    def acquire_lease(self, name: str, holder: str, ttl_s: float) -> Lease | None:
        """Take the lease when it is free or expired (the fence moves on when the holder
        changes), or renew it for its holder; None while another holder's runs."""
        now = self._clock()
        with self._writing("cannot write a lease to") as db:
            row = db.execute(
                "INSERT INTO leases (name, holder, fence, expires_at) VALUES (?, ?, 1, ?) "
                "ON CONFLICT (name) DO UPDATE SET "
                "fence = CASE WHEN leases.holder = excluded.holder THEN leases.fence "
                "ELSE leases.fence + 1 END, "
                "holder = excluded.holder, expires_at = excluded.expires_at "
                "WHERE leases.holder = excluded.holder OR leases.expires_at <= ? "
                "RETURNING fence",
                (name, holder, now + ttl_s, now),
            ).fetchone()
        return None if row is None else Lease(name=name, holder=holder, fence=row[0])

    def release_lease(self, lease: Lease) -> None:
        with self._writing("cannot release a lease in") as db:
            db.execute(
                "UPDATE leases SET expires_at = 0 WHERE name = ? AND holder = ? AND fence = ?",
                (lease.name, lease.holder, lease.fence),
            )

    def live_leases(self, prefix: str) -> list[Lease]:
        rows = self._read(
            "SELECT name, holder, fence FROM leases WHERE substr(name, 1, ?) = ? "
            "AND expires_at > ? ORDER BY name",
            (len(prefix), prefix, self._clock()),
        )
        return [Lease(name=r[0], holder=r[1], fence=r[2]) for r in rows]

    def _check_lease(self, db: sqlite3.Connection, lease: Lease) -> None:
        row = db.execute(
            "SELECT holder, fence, expires_at FROM leases WHERE name = ?", (lease.name,)
        ).fetchone()
        if row is None or (row[0], row[1]) != (lease.holder, lease.fence):
            raise LeaseLostError(f"the lease {lease.name} was taken over; nothing written")
        if row[2] <= self._clock():
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
            + "WHERE token_fingerprint = ? AND event = ? ORDER BY created_at, rowid",
            (fingerprint, event),
        )
        return [self._subscription(row) for row in rows]

    def load_cursor(self, stream: str) -> CursorState | None:
        try:
            with self._lock:
                row = self._db.execute(
                    "SELECT number, floor, watermark, last_sweep, resume_since, resume_page, "
                    "sweep_started, resume_until, rate, last_poll, spent "
                    "FROM streams WHERE key = ?",
                    (stream,),
                ).fetchone()
                if row is None:
                    return None
                seen = self._db.execute(
                    "SELECT item_id, ts FROM stream_seen WHERE number = ?", (row[0],)
                ).fetchall()
        except sqlite3.Error as error:
            raise self._error("cannot read", error) from None
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
        """In one transaction: the stream's cursor (only the changed ids of ``seen``) and its
        page's outbox rows. A row already there (the page read again after a crash) is left as
        it is: ``(subscription_id, webhook_id)`` is unique. Rows for a subscription removed
        meanwhile are not written: nothing would send them. Under ``lease``, only while it is
        held with that fence (``LeaseLostError``)."""
        with self._writing("cannot write the stream's cursor and outbox to") as db:
            if lease is not None:
                self._check_lease(db, lease)
            number = db.execute(
                "INSERT INTO streams (key, floor, watermark, last_sweep, resume_since, "
                "resume_page, sweep_started, resume_until, rate, last_poll, spent) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
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
            ).fetchone()[0]
            if changes.removed_before is not None:
                db.execute(
                    "DELETE FROM stream_seen WHERE number = ? AND ts < ?",
                    (number, changes.removed_before),
                )
            db.executemany(
                "INSERT OR IGNORE INTO stream_seen VALUES (?, ?, ?)",
                ((number, ts, item_id) for item_id, ts in changes.added.items()),
            )
            # ON CONFLICT DO NOTHING, not INSERT OR IGNORE: only the repeat of a row is skipped;
            # a row that breaks another rule (NOT NULL, ...) fails the whole commit.
            db.executemany(
                "INSERT INTO outbox (subscription_id, webhook_id, event, item, timestamp, item_id, "
                "created_at, attempts, next_attempt_at) SELECT ?, ?, ?, ?, ?, ?, ?, 0, ? "
                "WHERE EXISTS (SELECT 1 FROM subscriptions WHERE id = ?) "
                "ON CONFLICT (subscription_id, webhook_id) DO NOTHING",
                (
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
                ),
            )

    # -- the delivery worker ---------------------------------------------------------------------
    def due(self, now: int, limit: int) -> list[Delivery]:
        """Undelivered rows due at ``now``, of subscriptions that are not disabled, ordered by
        subscription, then (timestamp, item id) within each.

        A failing subscription offers only its oldest undelivered row, and only once that row is
        due: its later items wait behind it, so they go out in order when the endpoint is back.
        An active one offers all its due rows. When more than ``limit`` rows are due, the first
        rows of every subscription are taken before the second ones (round robin), so that one
        subscription's backlog does not hold the others back.
        """
        if limit <= 0:
            return []
        rows = self._read(
            "WITH pending AS ("
            " SELECT o.id, o.subscription_id, o.webhook_id, o.event, o.item, o.timestamp,"
            "  o.item_id, o.created_at, o.attempts, o.next_attempt_at, o.delivered_at,"
            "  s.status AS status, ROW_NUMBER() OVER ("
            "   PARTITION BY o.subscription_id ORDER BY o.timestamp, o.item_id, o.id) AS place"
            " FROM outbox o JOIN subscriptions s ON s.id = o.subscription_id"
            " WHERE o.delivered_at IS NULL AND s.status != 'disabled')"
            " SELECT id, subscription_id, webhook_id, event, item, timestamp, item_id,"
            "  created_at, attempts, next_attempt_at, delivered_at FROM pending"
            " WHERE next_attempt_at <= ? AND (status = 'active' OR place = 1)"
            " ORDER BY place, subscription_id LIMIT ?",
            (now, limit),
        )
        deliveries = [_delivery(row) for row in rows]
        deliveries.sort(key=lambda d: (d.subscription_id, d.timestamp, d.item_id, d.id))
        return deliveries

    def record_attempt(self, attempt: Attempt, *, delivered: bool) -> None:
        """Keep the attempt; mark the row delivered (at ``attempt.at``), or schedule it for
        ``attempt.next_attempt_at`` (None: given up, the row keeps its time and waits for the
        subscription's ``recover``)."""
        with self._writing("cannot write an attempt to") as db:
            db.execute(
                "INSERT INTO attempts (delivery_id, subscription_id, at, status_code, "
                "latency_ms, excerpt, next_attempt_at, extra) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
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
                    "UPDATE outbox SET attempts = attempts + 1, delivered_at = ? WHERE id = ?",
                    (attempt.at, attempt.delivery_id),
                )
            else:
                db.execute(
                    "UPDATE outbox SET attempts = attempts + 1, "
                    "next_attempt_at = coalesce(?, next_attempt_at) WHERE id = ?",
                    (attempt.next_attempt_at, attempt.delivery_id),
                )

    def attempts(self, customer_id: str, subscription_id: str, limit: int) -> list[Attempt]:
        """The subscription's attempts, newest first; none for another customer's."""
        rows = self._read(
            "SELECT a.delivery_id, a.subscription_id, a.at, a.status_code, a.latency_ms, "
            "a.excerpt, a.next_attempt_at, a.extra FROM attempts a "
            "JOIN subscriptions s ON s.id = a.subscription_id "
            "WHERE a.subscription_id = ? AND s.customer_id = ? "
            "ORDER BY a.at DESC, a.id DESC LIMIT ?",
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
        """Make the undelivered rows created at or after ``since`` due (at ``now``; without it,
        at their creation time, which is as due and needs no clock) and make the subscription
        active again; how many rows that made due. 0 for another customer's subscription, which
        is left as it is."""
        with self._writing("cannot recover a subscription in") as db:
            found = db.execute(
                "UPDATE subscriptions SET status = 'active', failing_since = NULL "
                "WHERE id = ? AND customer_id = ?",
                (subscription_id, customer_id),
            ).rowcount
            if not found:
                return 0
            count: int = db.execute(
                "UPDATE outbox SET next_attempt_at = coalesce(?, created_at) "
                "WHERE subscription_id = ? AND delivered_at IS NULL AND created_at >= ?",
                (now, subscription_id, since),
            ).rowcount
        return count

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> SQLiteBridgeStorage:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


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
