"""Which storage a bridge process opens: SQLite in its data folder (the default, one process), or
PostgreSQL at ``--db`` (any number of processes on any number of machines).

The secret box's key comes from the data folder (``bridge.key``, made at first use) or from
``MXGUARD_BRIDGE_KEY``. Every worker on one PostgreSQL database must use the same key: set
the variable on each machine (or copy the key file).
"""

from __future__ import annotations

from pathlib import Path

from bridge.secrets_box import SecretBox
from bridge.storage import BridgeStorage

SQLITE_FILE = "bridge.sqlite"


def open_storage(
    folder: Path,
    db_url: str | None = None,
    *,
    worker_id: str | None = None,
    claim_s: float | None = None,
) -> BridgeStorage:
    """The storage of a bridge whose data folder is ``folder``: ``db_url``'s PostgreSQL database
    when given, else ``folder/bridge.sqlite``. ``claim_s``: how long this worker's claim on a
    subscription's deliveries lasts (PostgreSQL)."""
    box = SecretBox.from_environment(folder)
    if db_url is None:
        from bridge.sqlite import SQLiteBridgeStorage

        return SQLiteBridgeStorage(folder / SQLITE_FILE, box)
    from bridge.postgres import PostgresBridgeStorage

    if claim_s is None:
        return PostgresBridgeStorage(db_url, box, worker_id=worker_id)
    return PostgresBridgeStorage(db_url, box, worker_id=worker_id, claim_s=claim_s)
