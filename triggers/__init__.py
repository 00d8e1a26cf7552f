"""Polling triggers with dedupe cursors kept on the items' timestamps.

See ``docs/delivery-guarantees.md`` for what they promise.
"""

from triggers.cursor import Cursor, CursorPolicy, CursorState
from triggers.definitions import NEW_DOMAIN, NEW_QUARANTINED_MESSAGE, NEW_VERDICT, TRIGGERS
from triggers.poller import Poller, PollReport
from triggers.store import CursorHeldError, CursorStore, MemoryCursorStore

__all__ = [
    "NEW_DOMAIN",
    "NEW_QUARANTINED_MESSAGE",
    "NEW_VERDICT",
    "TRIGGERS",
    "Cursor",
    "CursorHeldError",
    "CursorPolicy",
    "CursorState",
    "CursorStore",
    "MemoryCursorStore",
    "PollReport",
    "Poller",
]
