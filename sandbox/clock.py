"""The sandbox's notion of "now", which tests and benchmarks may move forward.

Moving the clock lets a test make a verdict's late arrival happen, or a rate-limit window pass,
without sleeping.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from api_client.contract import MICROS


class SandboxClock:
    """Wall-clock time in integer microseconds since the epoch, plus an adjustable offset."""

    def __init__(self, source: Callable[[], float] = time.time) -> None:
        self._source = source
        self._offset_us = 0
        self._lock = threading.Lock()

    def now_us(self) -> int:
        with self._lock:
            return int(self._source() * MICROS) + self._offset_us

    def now(self) -> float:
        return self.now_us() / MICROS

    def advance(self, seconds: float) -> int:
        """Move "now" forward (never backward) and return the new time in microseconds."""
        if seconds < 0:
            raise ValueError("the sandbox clock only moves forward")
        with self._lock:
            self._offset_us += int(seconds * MICROS)
        return self.now_us()
