"""Cursor storage in SQLite: atomic commits, only the changed ids written, one poller per cursor.

One file can hold the cursors of many triggers; each cursor is keyed by trigger, account and a
digest of the normalized server address and filters (see ``connector.polling.cursor_key``), and
keeps those parts readable in ``scope`` so that a trigger starting a new cursor can say which
other cursors of it exist and how they differ. The remembered ids are stored by (cursor number,
timestamp, id): new ids append at the end of the tree and forgetting old ones deletes a range, so
a commit writes a few pages whatever the table holds. WAL mode lets a reader look while a poll
commits.

Two pollers on one cursor would both emit everything, so ``hold`` takes an exclusive lock per
cursor (a lock file beside the database, released by the OS when the process ends, however it
ends).
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import stat
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import platformdirs
from filelock import FileLock, Timeout

from connector.errors import CursorStoreError as CursorStoreError
from connector.errors import CursorStoreFileError as CursorStoreFileError
from triggers.cursor import CursorState, SeenChanges
from triggers.state_rows import (
    STATE_COLUMNS,
    STATE_PLACEHOLDERS,
    STATE_UPDATE,
    state_from,
    state_values,
)
from triggers.store import CursorHeldError

SCHEMA_VERSION = 4
SCHEMA = """
CREATE TABLE IF NOT EXISTS cursors (
    number INTEGER PRIMARY KEY, key TEXT NOT NULL UNIQUE, floor INTEGER NOT NULL,
    watermark INTEGER NOT NULL, last_sweep INTEGER, resume_since INTEGER, resume_page TEXT,
    sweep_started INTEGER, scope TEXT, resume_until INTEGER, rate REAL NOT NULL DEFAULT 0,
    last_poll INTEGER, spent TEXT);
CREATE TABLE IF NOT EXISTS cursor_seen (
    number INTEGER NOT NULL, ts INTEGER NOT NULL, item_id TEXT NOT NULL,
    PRIMARY KEY (number, ts, item_id)) WITHOUT ROWID;
"""
MIGRATIONS = {
    2: """
ALTER TABLE cursors ADD COLUMN resume_since INTEGER;
ALTER TABLE cursors ADD COLUMN resume_page TEXT;
ALTER TABLE cursors ADD COLUMN sweep_started INTEGER;
ALTER TABLE cursors ADD COLUMN scope TEXT;
""",
    3: """
ALTER TABLE cursors ADD COLUMN resume_until INTEGER;
ALTER TABLE cursors ADD COLUMN rate REAL NOT NULL DEFAULT 0;
ALTER TABLE cursors ADD COLUMN last_poll INTEGER;
ALTER TABLE cursors ADD COLUMN spent TEXT;
""",
}
"""Version -> the statements that bring a file of that version to the next one."""

SETUP_ATTEMPTS = 50
"""``PRAGMA journal_mode=WAL`` answers "locked" without waiting while another process holds the
file; setting up retries that many times, 0.1 s apart."""
SETUP_LOCK_WAIT_S = 30.0
"""Opening takes a lock beside the file, so that several processes opening a new file at once
never see it half made (an empty file is refused, see ``_check_file``)."""


@dataclass(frozen=True)
class StoredCursor:
    """A cursor in the file, as ``others`` lists it."""

    key: str
    scope: dict[str, Any]


def default_state_path() -> Path:
    """Per-user data folder of the OS (e.g. ``~/.local/share/mxguard/cursors.sqlite``)."""
    return Path(platformdirs.user_data_dir("mxguard", appauthor=False)) / "cursors.sqlite"


def _check_folder(path: Path, *, create_parent: bool) -> None:
    """Refuse, before anything is written, a path whose folder cannot hold a cursor file."""
    parent = path.parent
    if not parent.exists():
        if not create_parent:
            raise CursorStoreFileError(f"{parent} does not exist; create it or use --state")
        try:
            parent.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise CursorStoreFileError(f"cannot create {parent}: {error.strerror}") from None
    if not parent.is_dir():
        raise CursorStoreFileError(f"{parent} is not a folder")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise CursorStoreFileError(f"cannot use {path}: its folder {parent} is not writable")


def _check_file(path: Path) -> None:
    """Refuse a path that is not (and cannot become) a cursor file; call with the setup lock."""
    if not path.exists():
        return
    info = path.stat()
    if stat.S_ISDIR(info.st_mode):
        raise CursorStoreFileError(f"{path} is a folder; give a file path for --state")
    if not stat.S_ISREG(info.st_mode):
        raise CursorStoreFileError(f"{path} is not a regular file; give a file path for --state")
    if info.st_size == 0:
        raise CursorStoreFileError(
            f"{path} is empty: a cursor file never is, so it was probably cut short; restore it, "
            "or remove it to start new cursors from now"
        )
    if not _is_sqlite(path):
        raise CursorStoreFileError(f"{path} is not a cursor file; move it away or use --state")


def _run_script(db: sqlite3.Connection, script: str) -> None:
    """The statements of ``script`` inside the open transaction (``executescript`` would commit
    it first)."""
    for statement in script.split(";"):
        if statement.strip():
            db.execute(statement)


def _is_sqlite(path: Path) -> bool:
    with path.open("rb") as file:
        return file.read(16) == b"SQLite format 3\x00"


class SQLiteCursorStore:
    """Cursors in one SQLite file.

    ``create_parent``: create missing folders above the file (for the default path in the user
    data folder); a path the user gave must have its folder already, so a typo is not silently
    turned into a tree of new folders.
    """

    def __init__(self, path: Path | str, *, create_parent: bool = False) -> None:
        self.path = Path(path)
        self._scopes: dict[str, str] = {}
        _check_folder(self.path, create_parent=create_parent)
        setup = FileLock(f"{self.path}.lock", timeout=SETUP_LOCK_WAIT_S)
        try:
            with setup:
                _check_file(self.path)
                self._db = sqlite3.connect(str(self.path), timeout=30, isolation_level=None)
                self._set_up()
        except sqlite3.Error as error:
            raise self._error("cannot open", error) from None
        except Timeout:
            raise CursorStoreError(f"{self.path} stayed locked by another process") from None
        except OSError as error:
            raise CursorStoreFileError(f"cannot open {self.path}: {error.strerror}") from None

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
            tables = db.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
            if version == 0 and tables == 0:
                _run_script(db, SCHEMA)
                version = SCHEMA_VERSION
            while version in MIGRATIONS:
                _run_script(db, MIGRATIONS[version])
                version += 1
            if version != SCHEMA_VERSION:
                raise CursorStoreFileError(
                    f"{self.path} is not a cursor file of this version; move it away or use --state"
                )
            db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction: committed when the block ends, rolled back when it raises
        (unless SQLite already rolled it back, as it does on a full disk)."""
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            yield db
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    def _error(self, doing: str, error: sqlite3.Error) -> CursorStoreError:
        cause = str(error)
        if "readonly" in cause or "read-only" in cause:
            return CursorStoreFileError(f"{doing} {self.path}: the file or its folder is read-only")
        if "unable to open" in cause:
            return CursorStoreFileError(f"{doing} {self.path}: {cause}")
        if "not a database" in cause:
            return CursorStoreFileError(f"{self.path} is not a cursor file; move it away")
        return CursorStoreError(f"{doing} {self.path}: {cause}")

    def _number(self, key: str) -> int | None:
        row = self._db.execute("SELECT number FROM cursors WHERE key = ?", (key,)).fetchone()
        return int(row[0]) if row else None

    def load(self, key: str) -> CursorState | None:
        try:
            row = self._db.execute(
                f"SELECT number, {STATE_COLUMNS} FROM cursors WHERE key = ?",  # noqa: S608
                (key,),
            ).fetchone()
            if row is None:
                return None
            seen = dict(
                self._db.execute(
                    "SELECT item_id, ts FROM cursor_seen WHERE number = ?", (row[0],)
                ).fetchall()
            )
        except sqlite3.Error as error:
            raise self._error("cannot read", error) from None
        return state_from(row[1:], seen)

    def commit(self, key: str, state: CursorState, changes: SeenChanges) -> None:
        try:
            self._commit(key, state, changes)
        except sqlite3.Error as error:
            raise self._error("cannot write the cursor to", error) from None

    def _commit(self, key: str, state: CursorState, changes: SeenChanges) -> None:
        with self._transaction() as db:
            db.execute(
                f"INSERT INTO cursors (key, scope, {STATE_COLUMNS}) "  # noqa: S608 - constants
                f"VALUES (?, ?, {STATE_PLACEHOLDERS}) "
                f"ON CONFLICT (key) DO UPDATE SET {STATE_UPDATE}, "
                "scope = coalesce(excluded.scope, scope)",
                (key, self._scopes.get(key), *state_values(state)),
            )
            number = self._number(key)
            if changes.removed_before is not None:
                db.execute(
                    "DELETE FROM cursor_seen WHERE number = ? AND ts < ?",
                    (number, changes.removed_before),
                )
            db.executemany(
                "INSERT OR IGNORE INTO cursor_seen VALUES (?, ?, ?)",
                ((number, ts, item_id) for item_id, ts in changes.added.items()),
            )

    def describe(self, key: str, scope: dict[str, Any]) -> None:
        """Keep the readable parts of a cursor's key (account, server, filters) beside it, from
        its next commit on."""
        self._scopes[key] = json.dumps(scope, sort_keys=True)

    def others(self, prefix: str, key: str) -> list[StoredCursor]:
        """The cursors whose key starts with ``prefix`` (e.g. the same trigger), but ``key``."""
        rows = self._db.execute(
            "SELECT key, scope FROM cursors WHERE substr(key, 1, ?) = ? AND key != ? ORDER BY key",
            (len(prefix), prefix, key),
        ).fetchall()
        return [StoredCursor(row[0], json.loads(row[1]) if row[1] else {}) for row in rows]

    def rename(self, old: str, new: str) -> bool:
        """Give a cursor a new key (an older layout of keys); False when ``old`` is absent or
        ``new`` exists already."""
        with self._transaction() as db:
            return (
                self._number(new) is None
                and db.execute("UPDATE cursors SET key = ? WHERE key = ?", (new, old)).rowcount == 1
            )

    def forget(self, key: str) -> bool:
        """Drop a cursor (``mxguard poll --reset``): the next poll starts afresh."""
        with self._transaction() as db:
            number = self._number(key)
            db.execute("DELETE FROM cursor_seen WHERE number = ?", (number,))
            db.execute("DELETE FROM cursors WHERE key = ?", (key,))
        return number is not None

    def exists(self, key: str) -> bool:
        return self._number(key) is not None

    @contextmanager
    def hold(self, key: str) -> Iterator[None]:
        """Poll ``key`` alone: raises ``CursorHeldError`` while another process holds it."""
        digest = hashlib.sha256(key.encode()).hexdigest()[:16]
        lock_path = self.path.with_name(f"{self.path.name}.{digest}.lock")
        lock = FileLock(str(lock_path), timeout=0)
        try:
            lock.acquire()
        except Timeout:
            raise CursorHeldError(
                f"another process is polling this cursor in {self.path}; stop it first, or "
                "give this one its own --state"
            ) from None
        except OSError as error:
            raise CursorStoreFileError(f"cannot lock {lock_path}: {error.strerror}") from None
        try:
            yield
        finally:
            lock.release()

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> SQLiteCursorStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
