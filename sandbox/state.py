"""Everything one sandbox instance holds, shared by its middleware and endpoints."""

from __future__ import annotations

import threading
from collections import Counter, defaultdict
from dataclasses import dataclass, field

from sandbox.clock import SandboxClock
from sandbox.faults import FaultBoard
from sandbox.ratelimit import SlidingWindowLimiter
from sandbox.settings import SandboxSettings
from sandbox.store import Store


@dataclass
class RequestLog:
    """How many public API requests were served, per token: by route, and by the status they
    were answered with (so a test can show that no client ever made the sandbox answer 429)."""

    _by_token: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    _statuses: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def count(self, token_key: str, route: str) -> None:
        with self._lock:
            self._by_token[token_key][route] += 1

    def answered(self, token_key: str, status: int) -> None:
        with self._lock:
            self._statuses[token_key][str(status)] += 1

    def snapshot(self) -> dict[str, object]:
        with self._lock:
            by_token = {
                key: {
                    "total": sum(routes.values()),
                    "by_path": dict(routes),
                    "by_status": dict(self._statuses.get(key, {})),
                }
                for key, routes in self._by_token.items()
            }
            total = sum(sum(routes.values()) for routes in self._by_token.values())
        return {"total": total, "by_token": by_token}

    def clear(self) -> None:
        with self._lock:
            self._by_token.clear()
            self._statuses.clear()


@dataclass
class SandboxState:
    settings: SandboxSettings
    store: Store
    clock: SandboxClock = field(default_factory=SandboxClock)
    faults: FaultBoard = field(default_factory=FaultBoard)
    requests: RequestLog = field(default_factory=RequestLog)
    limiter: SlidingWindowLimiter = field(init=False)

    def __post_init__(self) -> None:
        self.limiter = SlidingWindowLimiter(
            self.settings.rate_per_minute, self.settings.rate_per_hour
        )
