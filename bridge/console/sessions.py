"""Console sessions: who is logged in, and the CSRF token their forms must carry.

Logging in checks the MxGuard token with MxGuard (as the API does); the session then keeps only
the customer it belongs to. The token itself is in no cookie, no page and no session: the
console reads the bridge's storage, scoped to that customer, and needs nothing more.

Sessions live in the serving process's memory: a restart of the bridge asks everyone to log in
again, and logging out ends a session at once (a signed cookie could not be taken back). They
expire ``ttl_s`` after login.
"""

from __future__ import annotations

import hmac
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

SESSION_TTL_S = 8 * 3600.0
"""A working day: then the console asks for the token again."""
MAX_SESSIONS = 10_000
"""Sessions kept at most; the oldest goes first (bounded memory whatever the logins)."""
ID_BYTES = 32
FAILED_LOGINS = 10
FAILED_LOGIN_WINDOW_S = 60.0
"""A client address may fail to log in this many times a window; then it waits. Each attempt
asks MxGuard about the token, so a script hammering the form would otherwise make the bridge
hammer MxGuard."""


@dataclass(frozen=True)
class ConsoleSession:
    id: str
    customer_id: str
    csrf: str
    """Every form that changes something carries it; compared in constant time."""
    expires_at: float
    """On the store's clock (monotonic seconds)."""

    def __repr__(self) -> str:
        return f"ConsoleSession(customer_id={self.customer_id!r})"

    def accepts(self, csrf: str | None) -> bool:
        return csrf is not None and hmac.compare_digest(csrf.encode(), self.csrf.encode())


class SessionStore:
    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.monotonic,
        token_urlsafe: Callable[[int], str] = secrets.token_urlsafe,
        ttl_s: float = SESSION_TTL_S,
        max_sessions: int = MAX_SESSIONS,
    ) -> None:
        self.clock = clock
        self.token_urlsafe = token_urlsafe
        self.ttl_s = ttl_s
        self.max_sessions = max_sessions
        self._sessions: dict[str, ConsoleSession] = {}
        self._lock = threading.Lock()

    def create(self, customer_id: str) -> ConsoleSession:
        now = self.clock()
        session = ConsoleSession(
            id=self.token_urlsafe(ID_BYTES),
            customer_id=customer_id,
            csrf=self.token_urlsafe(ID_BYTES),
            expires_at=now + self.ttl_s,
        )
        with self._lock:
            for stale in [k for k, s in self._sessions.items() if s.expires_at <= now]:
                del self._sessions[stale]
            while len(self._sessions) >= self.max_sessions:
                del self._sessions[next(iter(self._sessions))]
            self._sessions[session.id] = session
        return session

    def get(self, session_id: str | None) -> ConsoleSession | None:
        if not session_id:
            return None
        with self._lock:
            session = self._sessions.get(session_id)
            if session is None:
                return None
            if session.expires_at <= self.clock():
                del self._sessions[session_id]
                return None
            return session

    def drop(self, session_id: str) -> None:
        with self._lock:
            self._sessions.pop(session_id, None)


class LoginThrottle:
    """Failed logins per client address over a sliding window (bounded memory)."""

    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.monotonic,
        limit: int = FAILED_LOGINS,
        window_s: float = FAILED_LOGIN_WINDOW_S,
        max_clients: int = MAX_SESSIONS,
    ) -> None:
        self.clock = clock
        self.limit = limit
        self.window_s = window_s
        self.max_clients = max_clients
        self._failures: dict[str, list[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, client: str, now: float) -> list[float]:
        kept = [t for t in self._failures.get(client, []) if now - t < self.window_s]
        if kept:
            self._failures[client] = kept
        else:
            self._failures.pop(client, None)
        return kept

    def wait_s(self, client: str) -> float:
        """Seconds before ``client`` may try again; 0 when it may now."""
        now = self.clock()
        with self._lock:
            recent = self._recent(client, now)
            if len(recent) < self.limit:
                return 0.0
            return max(0.0, recent[-self.limit] + self.window_s - now)

    def failed(self, client: str) -> None:
        now = self.clock()
        with self._lock:
            if client not in self._failures and len(self._failures) >= self.max_clients:
                del self._failures[next(iter(self._failures))]
            self._recent(client, now)
            self._failures.setdefault(client, []).append(now)
