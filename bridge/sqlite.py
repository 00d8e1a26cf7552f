"""The bridge's storage in one SQLite file: the embedded default (one command, no server).

Everything the bridge keeps lives in one file so that the cursor of a stream and the outbox rows
of its page are written in one transaction (``commit``): a crash at any instant leaves both or
neither, and the page is read again. Conventions are those of ``connector/cursor_store.py``: WAL
mode (the API reads while a pump commits), a lock beside the file while the schema is set up (so
several processes opening a new file never see it half made), migrations by ``PRAGMA
user_version``, and typed errors naming the path.

The statements and rows are ``bridge/sql.py``'s, shared with the PostgreSQL storage; secrets are
sealed before they reach the file: the customers' tokens (the bridge polls with them) and the
subscriptions' signing secrets (whoever has one can forge the bridge's webhooks). The file
itself is made private (mode 0600): it holds the items delivered, which are the customers' mail
data.

One process, several threads: one connection shared under a lock (SQLite's connection is not
safe for concurrent use, and the work per call is short). Several processes on one file are
safe for the data (SQLite's locks) but are not what it is for: that is the PostgreSQL storage.
"""

from __future__ import annotations

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
    Delivery,
    Lease,
)
from bridge.secrets_box import SecretBox
from bridge.sql import Connection, SqlBridgeStorage, lease_lost, statements
from bridge.storage import BridgeStorageError

APPLICATION_ID = 0x4D584742
"""``PRAGMA application_id`` of a bridge file ("MXGB"): another program's SQLite file, or a
trigger cursor file, is refused rather than written into."""
SCHEMA_VERSION = 4
REPORTS = """
CREATE TABLE reports (
    name TEXT PRIMARY KEY, kind TEXT NOT NULL, fingerprint TEXT NOT NULL, at INTEGER NOT NULL,
    body TEXT NOT NULL);
CREATE INDEX reports_token ON reports (kind, fingerprint);
"""
"""The console's table: each stream's and each token's last report (``record_reports``)."""
SCHEMA = (
    """
CREATE TABLE tokens (
    fingerprint TEXT PRIMARY KEY, customer_id TEXT NOT NULL, sealed TEXT NOT NULL,
    label TEXT NOT NULL DEFAULT '', added_by TEXT NOT NULL DEFAULT 'subscription');
CREATE TABLE leases (
    name TEXT PRIMARY KEY, holder TEXT NOT NULL, fence INTEGER NOT NULL,
    expires_at REAL NOT NULL);
CREATE TABLE settings (name TEXT PRIMARY KEY, value TEXT NOT NULL);
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
    + REPORTS
)
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
    2: """
CREATE TABLE settings (name TEXT PRIMARY KEY, value TEXT NOT NULL);
""",
    3: REPORTS,
}
"""Version -> the statements that bring a file of that version to the next one."""

SETUP_ATTEMPTS = 50
"""``PRAGMA journal_mode=WAL`` answers "locked" without waiting while another process holds the
file; setting up retries that many times, 0.1 s apart."""
SETUP_LOCK_WAIT_S = 30.0
BUSY_TIMEOUT_S = 30.0


class BridgeStorageFileError(BridgeStorageError):
    """The path is not (and cannot become) a bridge file: a folder, another program's database,
    a file cut short, a folder that cannot be written."""


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


class SQLiteBridgeStorage(SqlBridgeStorage):
    """``bridge.storage.BridgeStorage`` in one SQLite file; secrets sealed with ``box``."""

    def __init__(
        self, path: Path, box: SecretBox, *, clock: Callable[[], float] = time.time
    ) -> None:
        super().__init__(box)
        self.path = Path(path)
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
                    self.check_key()
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
                for statement in statements(SCHEMA):
                    db.execute(statement)
                db.execute(f"PRAGMA application_id = {APPLICATION_ID}")
                version = SCHEMA_VERSION
            elif application != APPLICATION_ID:
                raise BridgeStorageFileError(f"{self.path} is not a bridge file; move it away")
            while version in MIGRATIONS:
                for statement in statements(MIGRATIONS[version]):
                    db.execute(statement)
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

    @contextmanager
    def _snapshot(self, doing: str) -> Iterator[sqlite3.Connection]:
        """A read transaction (deferred: no write lock; WAL keeps its view while others
        commit)."""
        try:
            with self._lock:
                db = self._db
                db.execute("BEGIN")
                try:
                    yield db
                finally:
                    if db.in_transaction:
                        db.execute("COMMIT")
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

    def _check_lease(self, db: Connection, lease: Lease) -> None:
        row = db.execute(
            "SELECT holder, fence, expires_at FROM leases WHERE name = ?", (lease.name,)
        ).fetchone()
        lost = lease_lost(lease, row, row is not None and row[2] > self._clock())
        if lost is not None:
            raise lost

    # -- the delivery worker ---------------------------------------------------------------------
    def due(self, now: int, limit: int) -> list[Delivery]:
        """Undelivered rows due at ``now``, of subscriptions that are not disabled, ordered by
        subscription, then (timestamp, item id) within each (``SqlBridgeStorage.DUE``)."""
        if limit <= 0:
            return []
        rows = self._read(self.DUE.format(among="s.status != 'disabled'"), (now, limit))
        return self._in_order(rows)

    def close(self) -> None:
        with self._lock:
            self._db.close()
