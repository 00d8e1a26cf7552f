"""What a poll needs from cursor storage (the SQLite implementation lives in ``connector``)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Protocol

from api_client import MxGuardError
from triggers.cursor import CursorState, SeenChanges


class CursorStore(Protocol):
    def load(self, key: str) -> CursorState | None:
        """The committed state of a cursor, or None for a trigger that never polled."""
        ...

    def commit(self, key: str, state: CursorState, changes: SeenChanges) -> None:
        """Atomically store the state; ``changes`` says which seen ids to add and drop."""
        ...

    def exists(self, key: str) -> bool:
        """Whether a cursor was committed under ``key`` (without loading its seen ids)."""
        ...

    def forget(self, key: str) -> bool:
        """Drop a cursor; the next poll starts afresh. False when there was none."""
        ...

    def hold(self, key: str) -> AbstractContextManager[None]:
        """Poll ``key`` alone while the context lasts: two pollers on one cursor would both
        emit everything. Raises when another poller holds it."""
        ...


class CursorHeldError(MxGuardError):
    """Another poller holds this cursor (part of the tree drawn in ``connector/errors.py``)."""


class Holds:
    """The keys being polled in this process, one holder each (``CursorStore.hold``)."""

    def __init__(self, refusal: str) -> None:
        self._refusal = refusal
        """The error's message; ``{key}`` is the key held."""
        self._held: set[str] = set()
        self._lock = threading.Lock()

    @contextmanager
    def hold(self, key: str) -> Iterator[None]:
        with self._lock:
            if key in self._held:
                raise CursorHeldError(self._refusal.format(key=key))
            self._held.add(key)
        try:
            yield
        finally:
            with self._lock:
                self._held.discard(key)


class MemoryCursorStore:
    """Cursor storage in a dict: for tests and one-off runs (``--state :memory:``)."""

    def __init__(self) -> None:
        self._states: dict[str, CursorState] = {}
        self._holds = Holds("another poller holds the cursor {key}")

    def load(self, key: str) -> CursorState | None:
        state = self._states.get(key)
        return None if state is None else state.copy()

    def commit(self, key: str, state: CursorState, changes: SeenChanges) -> None:
        self._states[key] = state.copy()

    def exists(self, key: str) -> bool:
        return key in self._states

    def forget(self, key: str) -> bool:
        return self._states.pop(key, None) is not None

    def hold(self, key: str) -> AbstractContextManager[None]:
        return self._holds.hold(key)
