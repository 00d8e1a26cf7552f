"""What a poll needs from cursor storage (the SQLite implementation lives in ``connector``)."""

from __future__ import annotations

from typing import Protocol

from triggers.cursor import CursorState, SeenChanges


class CursorStore(Protocol):
    def load(self, key: str) -> CursorState | None:
        """The committed state of a cursor, or None for a trigger that never polled."""
        ...

    def commit(self, key: str, state: CursorState, changes: SeenChanges) -> None:
        """Atomically store the state; ``changes`` says which seen ids to add and drop."""
        ...


class MemoryCursorStore:
    """Cursor storage in a dict: for tests and one-off runs (``--state :memory:``)."""

    def __init__(self) -> None:
        self._states: dict[str, CursorState] = {}

    def load(self, key: str) -> CursorState | None:
        state = self._states.get(key)
        if state is None:
            return None
        return CursorState(state.floor, state.watermark, dict(state.seen), state.last_sweep)

    def commit(self, key: str, state: CursorState, changes: SeenChanges) -> None:
        self._states[key] = CursorState(
            state.floor, state.watermark, dict(state.seen), state.last_sweep
        )
