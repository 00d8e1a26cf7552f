"""When a request may be sent again, and how long to wait first.

The rules (also in ``docs/api-client.md``):

* Reads (GET) are retried on connection errors, timeouts and 502/503/504, with exponential
  back-off and jitter, at most ``max_retries`` times.
* Writes (POST/PATCH/DELETE) are never re-sent after an ambiguous failure: a timeout, a dropped
  connection or a 5xx after the request left may mean the server acted on it (a message released
  twice is a 409 at best). A write is retried only when the server provably did not act on it:
  a 429, or a failure to connect at all.
* A 429 is retried after ``Retry-After`` (seconds or an HTTP date), at most
  ``max_rate_limited_retries`` times in a row, and never when the wait exceeds
  ``max_rate_limit_wait``.

This is a short loop in ``transport.py`` rather than tenacity: the decision depends on the method,
on whether the request left, and on a separate 429 budget, its waits share the injected sleep
with the rate limiter, and the loop must raise the client's own error unchained from the
``requests`` exception (which holds the request with its ``Authorization`` header).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC
from email.utils import parsedate_to_datetime

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
RETRY_STATUSES = frozenset({502, 503, 504})


@dataclass(frozen=True)
class RetryPolicy:
    max_retries: int = 3
    """Re-sends after a transient failure (connection, timeout, 502/503/504)."""
    backoff_base: float = 0.5
    """Seconds before the first re-send; doubled each time."""
    backoff_max: float = 8.0
    max_rate_limited_retries: int = 5
    """429 answers in a row before ``RateLimitedError`` is raised."""

    def backoff(self, retry: int) -> float:
        """The delay before re-send number ``retry`` (0-based), before jitter."""
        return min(self.backoff_max, self.backoff_base * 2.0**retry)


def is_read(method: str) -> bool:
    return method.upper() in SAFE_METHODS


def may_resend(method: str, *, sent: bool) -> bool:
    """Reads always may; writes only when the request never left."""
    return is_read(method) or not sent


def equal_jitter(delay: float) -> float:
    """Between half and all of ``delay``: spreads clients apart but keeps a floor."""
    return random.uniform(delay / 2, delay)


def parse_retry_after(value: str | None, now: float) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or an HTTP date)."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        return max(0.0, float(text))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:  # "-0000": UTC, per RFC 5322
        when = when.replace(tzinfo=UTC)
    return max(0.0, when.timestamp() - now)
