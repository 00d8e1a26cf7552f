"""Staying under MxGuard's per-token limits (60/min and 600/h) before the server has to say no.

Two sources, and the client obeys whichever is stricter:

* ``TokenRateLimiter``: a sliding-window log of this token's requests in a pyrate-limiter
  ``SQLiteBucket`` (both windows in one bucket), in a file shared by every process on the machine
  and guarded by a file lock, so several triggers using one token share one budget. The table is
  named by the token's fingerprint (a SHA-256 prefix), never the token.
  With a ``postgresql://`` URL instead of a path, the log is a pyrate-limiter ``PostgresBucket``
  in that database: every process on every machine that uses the database shares the budget (the
  bridge's workers on PostgreSQL).
* ``ServerRateState``: the last ``X-RateLimit-*`` headers. They see requests this machine does not
  (other machines, the MxGuard UI); when they say nothing is left, the client waits for the reset.

pyrate-limiter's ``Limiter`` sleeps on its own clock; to keep clock and sleep injectable, only its
bucket is used: items are stamped with the injected clock and the bucket answers with the wait,
which the caller sleeps with the injected sleep.
"""

from __future__ import annotations

import logging
import re
import sqlite3
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from pyrate_limiter import (
    AbstractBucket,
    Decision,
    PostgresBucket,
    Rate,
    RateItem,
    SQLiteBucket,
    validate_rate_list,
)

from api_client.config import Clock, default_rate_limit_db
from api_client.contract import DEFAULT_PER_HOUR, DEFAULT_PER_MINUTE

logger = logging.getLogger("api_client")

MINUTE = 60.0
HOUR = 3600.0
DEFAULT_MARGIN = 1.0
"""Seconds added to each window: a request is stamped here before it leaves and counted there when
it arrives, so latency that varies between requests could otherwise let the server see 61 in 60."""
MEMORY = ":memory:"
FINGERPRINT = re.compile(r"[0-9a-f]{8,64}")
"""Names the token's table; checked because pyrate-limiter puts table names into its SQL."""
LEAK_EVERY = 100
POSTGRES_SCHEMES = ("postgresql://", "postgres://")
POOL_SIZE = 4
"""Connections each process keeps to a PostgreSQL rate-limit database (one pool for every token)."""


class TokenRateLimiter:
    """Both windows of one token, shared through a SQLite file (private with ``":memory:"``), or
    through a PostgreSQL database (``path`` a ``postgresql://`` URL)."""

    def __init__(
        self,
        fingerprint: str,
        *,
        per_minute: int = DEFAULT_PER_MINUTE,
        per_hour: int = DEFAULT_PER_HOUR,
        margin: float = DEFAULT_MARGIN,
        path: str | Path | None = None,
        clock: Clock = time.time,
    ) -> None:
        if not FINGERPRINT.fullmatch(fingerprint):
            raise ValueError(
                "fingerprint: expected 8 to 64 lower-case hex digits (Secret.fingerprint)"
            )
        self.per_minute = per_minute
        self.per_hour = per_hour
        self._clock = clock
        self._rates = [
            Rate(per_minute, int((MINUTE + margin) * 1000)),
            Rate(per_hour, int((HOUR + margin) * 1000)),
        ]
        if not validate_rate_list(self._rates):
            raise ValueError("rate limits need per_minute < per_hour <= 59 * per_minute")
        self._lock = threading.Lock()
        self._puts = 0
        self._bucket = _open_bucket(self._rates, f"mxguard_{fingerprint}", path)
        self._leak()

    def try_acquire(self) -> float:
        """Take a slot now and return 0, or take nothing and return the seconds to wait."""
        with self._lock:
            item = RateItem("request", self._now_ms())
            decision = self._bucket.put_decision(item)
            if not isinstance(decision, Decision):
                raise TypeError("expected a synchronous bucket")
            if decision.allowed:
                self._puts += 1
                if self._puts % LEAK_EVERY == 0:
                    self._leak()
                return 0.0
            wait_ms = decision.retry_after_ms
            if wait_ms is None:
                waited = self._bucket.waiting(item)
                assert isinstance(waited, int)
                wait_ms = waited
            return max(wait_ms, 1) / 1000

    def remaining(self) -> tuple[int, int]:
        """Requests left now in the minute and the hour window, as this machine counts them."""
        now = self._now_ms()
        starts = [now - rate.interval for rate in self._rates]
        with self._lock:
            if isinstance(self._bucket, PostgresBucket):
                counts = _postgres_counts(self._bucket, starts)
            else:
                assert isinstance(self._bucket, SQLiteBucket)
                counts = _sqlite_counts(self._bucket, starts)
        return max(0, self.per_minute - counts[0]), max(0, self.per_hour - counts[1])

    def close(self) -> None:
        if isinstance(self._bucket, PostgresBucket):
            return  # its pool is the process's, shared by every token (closed at exit)
        with self._lock:
            self._bucket.close()

    def _now_ms(self) -> int:
        return round(self._clock() * 1000)

    def _leak(self) -> None:
        """Drop entries older than both windows, so the table stays small."""
        self._bucket.leak(self._now_ms())


def _sqlite_counts(bucket: SQLiteBucket, starts: list[int]) -> list[int]:
    counts = []
    with bucket.lock:
        for start in starts:
            query = f"SELECT COUNT(*) FROM '{bucket.table}' WHERE item_timestamp >= ?"  # noqa: S608
            counts.append(int(bucket.conn.execute(query, (start,)).fetchone()[0]))
    return counts


def _postgres_counts(bucket: PostgresBucket, starts: list[int]) -> list[int]:
    from psycopg import sql

    # the table pyrate-limiter made for the bucket (``ratelimit___<table>``)
    table = sql.Identifier(f"ratelimit___{bucket.table}")
    query = sql.SQL("SELECT COUNT(*) FROM {} WHERE item_timestamp >= TO_TIMESTAMP(%s)")
    counts = []
    with bucket.pool.connection() as db:
        for start in starts:
            row = db.execute(query.format(table), (start / 1000,)).fetchone()
            counts.append(int(row[0]) if row else 0)
    return counts


_pools: dict[str, object] = {}
_pools_lock = threading.Lock()


def _postgres_bucket(rates: list[Rate], table: str, url: str) -> PostgresBucket:
    """A bucket in the database at ``url``, through one connection pool per process and URL."""
    from psycopg_pool import ConnectionPool

    with _pools_lock:
        pool = _pools.get(url)
        if pool is None:
            pool = _pools[url] = ConnectionPool(
                url, min_size=1, max_size=POOL_SIZE, open=True, name="mxguard-rate-limits"
            )
    assert isinstance(pool, ConnectionPool)
    return PostgresBucket(pool, table, rates)


def is_postgres_url(value: str) -> bool:
    """Whether a rate-limit database (or the bridge's ``--db``) is a PostgreSQL URL."""
    return value.startswith(POSTGRES_SCHEMES)


def _open_bucket(rates: list[Rate], table: str, path: str | Path | None) -> AbstractBucket:
    if isinstance(path, str) and is_postgres_url(path):
        return _postgres_bucket(rates, table, path)
    if path is None:
        default = default_rate_limit_db()
        try:
            return _open_file_bucket(rates, table, default)
        except (OSError, sqlite3.Error) as exc:
            logger.warning(
                "cannot use the shared rate-limit file %s (%s); counting in memory, per process",
                default,
                exc,
            )
            path = MEMORY
    if str(path) == MEMORY:
        return SQLiteBucket.init_from_file(rates, table=table, db_path=MEMORY)
    return _open_file_bucket(rates, table, Path(path))


def _open_file_bucket(rates: list[Rate], table: str, db: Path) -> SQLiteBucket:
    db.parent.mkdir(parents=True, exist_ok=True)
    try:
        return SQLiteBucket.init_from_file(rates, table=table, db_path=str(db), use_file_lock=True)
    except ImportError:
        logger.warning(
            "the 'filelock' package is missing: the rate-limit budget in %s is not shared "
            "safely between processes (pip install filelock)",
            db,
        )
        return SQLiteBucket.init_from_file(rates, table=table, db_path=str(db))


@dataclass(frozen=True)
class ServerRateSnapshot:
    limit: int | None
    remaining: int | None
    reset: int | None
    """Unix seconds when the binding window frees a request (``X-RateLimit-Reset``)."""
    hour_limit: int | None = None
    """The token's hourly limit, learned from an answer whose binding window was the hour's."""


class ServerRateState:
    """The last ``X-RateLimit-Limit/Remaining/Reset`` the server sent."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._snapshot = ServerRateSnapshot(None, None, None)

    def observe(self, headers: Mapping[str, str], now: float) -> None:
        """Keep the headers; learn the hourly limit when the hour's window is the one that
        binds, which shows as a reset more than two minutes away (the minute's window frees a
        request within a minute, by definition; the second minute absorbs clock skew)."""
        limit = _int_header(headers, "X-RateLimit-Limit")
        remaining = _int_header(headers, "X-RateLimit-Remaining")
        reset = _int_header(headers, "X-RateLimit-Reset")
        if remaining is None and reset is None:
            return
        with self._lock:
            hour_limit = self._snapshot.hour_limit
            if limit is not None and reset is not None and reset - now > 2 * MINUTE:
                hour_limit = limit
            self._snapshot = ServerRateSnapshot(limit, remaining, reset, hour_limit)

    def forget_exhaustion(self) -> None:
        """After waiting as told, the "nothing left" no longer holds."""
        with self._lock:
            old = self._snapshot
            self._snapshot = ServerRateSnapshot(old.limit, None, old.reset, old.hour_limit)

    def snapshot(self) -> ServerRateSnapshot:
        with self._lock:
            return self._snapshot

    def wait_needed(self, now: float) -> float:
        """Seconds until the reset when the server said no request is left, else 0.

        Capped at an hour (plus margin): a reset further away than the longest window is clock
        skew between here and the server, not a real wait.
        """
        current = self.snapshot()
        if current.remaining is None or current.remaining > 0 or current.reset is None:
            return 0.0
        return min(max(0.0, current.reset - now), HOUR + DEFAULT_MARGIN)


def _int_header(headers: Mapping[str, str], name: str) -> int | None:
    value = headers.get(name)
    if value is None:
        return None
    try:
        return int(float(value.strip()))
    except ValueError:
        return None


@dataclass(frozen=True)
class RateBudget:
    """What a caller may still spend, so a poll can stop cleanly instead of hitting a wall."""

    minute_remaining: int
    """Left in the sliding minute window, counted on this machine."""
    hour_remaining: int
    """Left in the sliding hour window, counted on this machine."""
    per_minute: int
    per_hour: int
    server_limit: int | None
    """``X-RateLimit-Limit`` of the last answer: the window that binds now."""
    server_remaining: int | None
    """``X-RateLimit-Remaining`` of the last answer (counts every machine's requests); None when
    unknown, or once its reset time has passed."""
    server_reset: datetime | None
    """``X-RateLimit-Reset`` of the last answer."""
    server_hour_limit: int | None = None
    """The hourly limit the server showed when the hour's window bound (None: not yet)."""

    @property
    def hourly_limit(self) -> int:
        """The token's hourly limit: as the server showed it (when that is above the minute's
        limit, as an hour's must be), else as configured."""
        learned = self.server_hour_limit
        return learned if learned is not None and learned > self.per_minute else self.per_hour

    @property
    def remaining(self) -> int:
        """The smallest of the counts above: how many requests may be sent without waiting."""
        known = [self.minute_remaining, self.hour_remaining]
        if self.server_remaining is not None:
            known.append(self.server_remaining)
        return min(known)


def budget(limiter: TokenRateLimiter, server: ServerRateSnapshot, now: float) -> RateBudget:
    minute, hour = limiter.remaining()
    reset = server.reset
    still_valid = reset is not None and reset > now
    return RateBudget(
        minute_remaining=minute,
        hour_remaining=hour,
        per_minute=limiter.per_minute,
        per_hour=limiter.per_hour,
        server_limit=server.limit,
        server_remaining=server.remaining if still_valid else None,
        server_reset=datetime.fromtimestamp(reset, UTC) if reset is not None else None,
        server_hour_limit=server.hour_limit,
    )
