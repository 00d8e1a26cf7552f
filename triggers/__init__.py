"""Polling triggers with dedupe cursors kept on the items' timestamps (``triggers/polling/``).

See ``docs/delivery-guarantees.md`` for what they promise.
"""

from triggers.cursor import Cursor, CursorPolicy, CursorState
from triggers.poller import Poller, PollReport
from triggers.store import CursorHeldError, CursorStore, MemoryCursorStore

__all__ = [
    "Cursor",
    "CursorHeldError",
    "CursorPolicy",
    "CursorState",
    "CursorStore",
    "MemoryCursorStore",
    "PollReport",
    "Poller",
]
