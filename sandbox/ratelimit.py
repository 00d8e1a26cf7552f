"""The documented per-token rate limits: a burst window of a minute and a window of an hour.

A sliding log of accepted requests per key gives exact answers for both windows; rejected
requests are not logged, so a client that waits as told always gets through.
"""

from __future__ import annotations

import math
import threading
from collections import deque
from dataclasses import dataclass

MINUTE = 60.0
HOUR = 3600.0


@dataclass(frozen=True)
class RateDecision:
    allowed: bool
    limit: int
    """The limit of the window that binds now (the one with fewer requests left)."""
    remaining: int
    reset_at: int
    """Unix time (seconds) when the binding window next frees a request."""
    retry_after: int
    """Seconds to wait before retrying; 0 when allowed."""


class SlidingWindowLimiter:
    def __init__(self, per_minute: int, per_hour: int) -> None:
        self.per_minute = per_minute
        self.per_hour = per_hour
        self._log: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def hit(self, key: str, now: float) -> RateDecision:
        """Count one request for ``key`` at ``now`` if both windows allow it."""
        with self._lock:
            log = self._log.setdefault(key, deque())
            while log and log[0] <= now - HOUR:
                log.popleft()
            in_minute = len(log) - _first_index_after(log, now - MINUTE)
            allowed = in_minute < self.per_minute and len(log) < self.per_hour
            if allowed:
                log.append(now)
                in_minute += 1
            return self._decision(log, now, in_minute, allowed)

    def _decision(
        self, log: deque[float], now: float, in_minute: int, allowed: bool
    ) -> RateDecision:
        minute_left = self.per_minute - in_minute
        hour_left = self.per_hour - len(log)
        if minute_left <= hour_left:
            limit, remaining, window = self.per_minute, minute_left, MINUTE
            oldest = log[len(log) - in_minute] if in_minute else now
        else:
            limit, remaining, window = self.per_hour, hour_left, HOUR
            oldest = log[0] if log else now
        frees_at = oldest + window
        retry_after = 0 if allowed else max(1, math.ceil(frees_at - now))
        return RateDecision(allowed, limit, max(0, remaining), math.ceil(frees_at), retry_after)

    def forget(self, key: str) -> None:
        with self._lock:
            self._log.pop(key, None)

    def clear(self) -> None:
        with self._lock:
            self._log.clear()


def _first_index_after(log: deque[float], boundary: float) -> int:
    """Index of the first entry newer than ``boundary`` (entries are in time order)."""
    low, high = 0, len(log)
    while low < high:
        middle = (low + high) // 2
        if log[middle] <= boundary:
            low = middle + 1
        else:
            high = middle
    return low
