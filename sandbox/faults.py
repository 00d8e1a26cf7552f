"""Faults the simulation API can arm: the next N matching requests fail in a chosen way."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from enum import StrEnum


class FaultKind(StrEnum):
    status = "status"
    """Answer with ``status`` (500, 502, 503 or 429) and the contract's error body."""
    delay = "delay"
    """Wait ``delay_seconds``, then answer normally."""
    drop = "drop"
    """Start a response, then drop the connection half-way through the body."""
    malformed = "malformed"
    """Answer 200 with a body that is not valid JSON."""


@dataclass
class Fault:
    kind: FaultKind
    remaining: int
    status: int = 503
    delay_seconds: float = 0.0
    retry_after: int = 1
    method: str | None = None
    path_prefix: str = "/api/v1/"
    token_id: str | None = None

    def matches(self, method: str, path: str, token_id: str | None) -> bool:
        return (
            (self.method is None or self.method == method)
            and path.startswith(self.path_prefix)
            and (self.token_id is None or self.token_id == token_id)
        )


class FaultBoard:
    """Armed faults, consumed first-armed first."""

    def __init__(self) -> None:
        self._faults: list[Fault] = []
        self._lock = threading.Lock()

    def arm(self, fault: Fault) -> None:
        with self._lock:
            self._faults.append(fault)

    def take(self, method: str, path: str, token_id: str | None) -> Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.matches(method, path, token_id):
                    fault.remaining -= 1
                    if fault.remaining <= 0:
                        self._faults.remove(fault)
                    return fault
        return None

    def pending(self) -> int:
        with self._lock:
            return sum(f.remaining for f in self._faults)

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()
