"""Cursor storage in SQLite: atomic commits, only the changed ids written.

One file can hold the cursors of many triggers; each cursor is keyed by trigger, token
fingerprint and filters (see ``connector.polling.cursor_key``), so two workflows with different
filters never share one. The remembered ids are stored by (cursor number, timestamp, id): new ids
append at the end of the tree and forgetting old ones deletes a range, so a commit writes a few
pages whatever the table holds. WAL mode lets a reader look while a poll commits.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import platformdirs

from triggers.cursor import CursorState, SeenChanges

SCHEMA_VERSION = 2
SCHEMA = """
CREATE TABLE IF NOT EXISTS cursors (
    number INTEGER PRIMARY KEY, key TEXT NOT NULL UNIQUE, floor INTEGER NOT NULL,
    watermark INTEGER NOT NULL, last_sweep INTEGER);
CREATE TABLE IF NOT EXISTS cursor_seen (
    number INTEGER NOT NULL, ts INTEGER NOT NULL, item_id TEXT NOT NULL,
    PRIMARY KEY (number, ts, item_id)) WITHOUT ROWID;
"""


class CursorStoreError(Exception):
    """The state file cannot be used (another program's file, or an older layout)."""


def default_state_path() -> Path:
    """Per-user data folder of the OS (e.g. ``~/.local/share/mxguard/cursors.sqlite``)."""
    return Path(platformdirs.user_data_dir("mxguard", appauthor=False)) / "cursors.sqlite"


class SQLiteCursorStore:
    def __init__(self, path: Path | str) -> None:
        if str(path) != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(path), timeout=30, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        version = self._db.execute("PRAGMA user_version").fetchone()[0]
        tables = self._db.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
        if version not in (0, SCHEMA_VERSION) or (version == 0 and tables):
            raise CursorStoreError(
                f"{path} is not a cursor file of this version; move it away or use --state"
            )
        self._db.executescript(SCHEMA)
        self._db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    def _number(self, key: str) -> int | None:
        row = self._db.execute("SELECT number FROM cursors WHERE key = ?", (key,)).fetchone()
        return int(row[0]) if row else None

    def load(self, key: str) -> CursorState | None:
        row = self._db.execute(
            "SELECT number, floor, watermark, last_sweep FROM cursors WHERE key = ?", (key,)
        ).fetchone()
        if row is None:
            return None
        seen = dict(
            self._db.execute(
                "SELECT item_id, ts FROM cursor_seen WHERE number = ?", (row[0],)
            ).fetchall()
        )
        return CursorState(floor=row[1], watermark=row[2], seen=seen, last_sweep=row[3])

    def commit(self, key: str, state: CursorState, changes: SeenChanges) -> None:
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            db.execute(
                "INSERT INTO cursors (key, floor, watermark, last_sweep) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (key) DO UPDATE SET floor = excluded.floor, "
                "watermark = excluded.watermark, last_sweep = excluded.last_sweep",
                (key, state.floor, state.watermark, state.last_sweep),
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
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise

    def forget(self, key: str) -> bool:
        """Drop a cursor (``mxguard poll --reset``): the next poll starts afresh."""
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        number = self._number(key)
        db.execute("DELETE FROM cursor_seen WHERE number = ?", (number,))
        db.execute("DELETE FROM cursors WHERE key = ?", (key,))
        db.execute("COMMIT")
        return number is not None

    def close(self) -> None:
        self._db.close()
