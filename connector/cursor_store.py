"""Cursor storage in SQLite: atomic commits, only the changed ids written.

One file can hold the cursors of many triggers; each cursor is keyed by trigger, token
fingerprint and filters (see ``triggers.keys``), so two workflows with different filters never
share one. WAL mode lets a reader look while a poll commits.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import platformdirs

from triggers.cursor import CursorState, SeenChanges

SCHEMA = """
CREATE TABLE IF NOT EXISTS cursors (
    key TEXT PRIMARY KEY, floor INTEGER NOT NULL, watermark INTEGER NOT NULL,
    last_sweep INTEGER);
CREATE TABLE IF NOT EXISTS cursor_seen (
    key TEXT NOT NULL, item_id TEXT NOT NULL, ts INTEGER NOT NULL,
    PRIMARY KEY (key, item_id)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS cursor_seen_by_time ON cursor_seen (key, ts);
"""


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
        self._db.executescript(SCHEMA)

    def load(self, key: str) -> CursorState | None:
        row = self._db.execute(
            "SELECT floor, watermark, last_sweep FROM cursors WHERE key = ?", (key,)
        ).fetchone()
        if row is None:
            return None
        seen = dict(
            self._db.execute("SELECT item_id, ts FROM cursor_seen WHERE key = ?", (key,)).fetchall()
        )
        return CursorState(floor=row[0], watermark=row[1], seen=seen, last_sweep=row[2])

    def commit(self, key: str, state: CursorState, changes: SeenChanges) -> None:
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            db.execute(
                "INSERT INTO cursors VALUES (?, ?, ?, ?) ON CONFLICT (key) DO UPDATE SET "
                "floor = excluded.floor, watermark = excluded.watermark, "
                "last_sweep = excluded.last_sweep",
                (key, state.floor, state.watermark, state.last_sweep),
            )
            db.executemany(
                "INSERT OR REPLACE INTO cursor_seen VALUES (?, ?, ?)",
                ((key, item_id, ts) for item_id, ts in changes.added.items()),
            )
            if changes.removed_before is not None:
                db.execute(
                    "DELETE FROM cursor_seen WHERE key = ? AND ts < ?",
                    (key, changes.removed_before),
                )
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise

    def forget(self, key: str) -> bool:
        """Drop a cursor (``mxguard poll --reset``): the next poll starts afresh."""
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        gone = db.execute("DELETE FROM cursors WHERE key = ?", (key,)).rowcount
        db.execute("DELETE FROM cursor_seen WHERE key = ?", (key,))
        db.execute("COMMIT")
        return gone == 1

    def close(self) -> None:
        self._db.close()
