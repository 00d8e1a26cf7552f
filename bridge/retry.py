"""When a delivery is tried again, and when a subscription is given up on.

The Standard Webhooks schedule: an item is sent at once, then after each failure it waits
5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 14 h, 20 h and 24 h (about 75 hours in all); past the end of
the schedule its last delay repeats. Each wait is stretched or shrunk by a random ±10 % so that
deliveries that failed together (a receiver's outage) do not all come back at the same instant
and knock it over again.

* Only 2xx is a success. 3xx is a failure: redirects are not followed (a target that moved should
  be updated, and following them would let a public URL redirect the bridge to a private one).
* ``Retry-After`` (seconds or an HTTP date) is honoured on 429, 502, 503 and 504: the next attempt
  is the later of it and the schedule, and never more than ``max_retry_after_s`` away, so a
  receiver cannot park its deliveries past the point where the subscription would be disabled.
* 410 Gone disables the subscription at once: the receiver said it wants nothing more (Zapier
  answers 410 after an unsubscribe).
* A subscription that has been failing for ``disable_after_s`` (5 days by default) is disabled;
  its undelivered rows stay in the outbox for ``recover``.

``next_step`` is a pure function of its arguments (the randomness is an argument too), so the
worker's decisions can be tested without a clock. Times are integer microseconds since the epoch,
as in ``bridge.models``.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from datetime import UTC
from email.utils import parsedate_to_datetime
from enum import StrEnum

from api_client.contract import MICROS
from api_client.errors import MxGuardError

STANDARD_DELAYS_S: tuple[int, ...] = (
    5,
    5 * 60,
    30 * 60,
    2 * 3600,
    5 * 3600,
    10 * 3600,
    14 * 3600,
    20 * 3600,
    24 * 3600,
)
"""Seconds to wait after the 1st, 2nd, ... failed attempt (the first attempt is immediate)."""
DEFAULT_JITTER = 0.1
"""Each delay is multiplied by a random factor in ``[1 - jitter, 1 + jitter]``."""
DEFAULT_DISABLE_AFTER_S = 5 * 86400
DEFAULT_MAX_RETRY_AFTER_S = 86400
RETRY_AFTER_STATUSES = frozenset({429, 502, 503, 504})
"""Answers whose ``Retry-After`` is honoured (the spec's throttling answers, and 503)."""
GONE = 410

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_DELAY = re.compile(r"(\d+(?:\.\d+)?)\s*([smhd])")


class RetryScheduleError(MxGuardError, ValueError):
    """A retry schedule that cannot be used (``--retry-schedule``): the message says why."""


class Outcome(StrEnum):
    delivered = "delivered"
    retry = "retry"
    disable = "disable"


@dataclass(frozen=True, kw_only=True)
class Decision:
    """What the worker does after an attempt."""

    outcome: Outcome
    retry_at: int | None = None
    """``retry``: when to try again (µs)."""
    failing_since: int | None = None
    """What to keep as the subscription's ``failing_since``: None once delivered; otherwise the
    first failure of the streak (this attempt's time for a first failure)."""
    reason: str = ""
    """Why, in words, for the attempt's record and the operator's log."""


@dataclass(frozen=True, kw_only=True)
class RetrySchedule:
    """The delays between attempts and when a failing subscription is disabled."""

    delays_s: tuple[float, ...] = STANDARD_DELAYS_S
    jitter: float = DEFAULT_JITTER
    disable_after_s: float = DEFAULT_DISABLE_AFTER_S
    max_retry_after_s: float = DEFAULT_MAX_RETRY_AFTER_S

    def __post_init__(self) -> None:
        if not self.delays_s:
            raise RetryScheduleError("a retry schedule needs at least one delay")
        if any(not delay > 0 for delay in self.delays_s):
            raise RetryScheduleError("every retry delay must be more than 0 seconds")
        if not 0 <= self.jitter < 1:
            raise RetryScheduleError("jitter must be at least 0 and less than 1")
        if not self.disable_after_s > 0:
            raise RetryScheduleError("disable_after_s must be more than 0 seconds")
        if self.max_retry_after_s < 0:
            raise RetryScheduleError("max_retry_after_s must not be negative")

    @classmethod
    def parse(
        cls,
        text: str,
        *,
        jitter: float = DEFAULT_JITTER,
        disable_after_s: float = DEFAULT_DISABLE_AFTER_S,
        max_retry_after_s: float = DEFAULT_MAX_RETRY_AFTER_S,
    ) -> RetrySchedule:
        """A schedule from the operator's ``--retry-schedule``: ``"5s,5m,30m,2h,1d"``.

        Each delay is a number and a unit (``s``, ``m``, ``h``, ``d``), in the order they are
        waited; past the last one, the last one repeats.
        """
        items = [part.strip() for part in text.split(",")]
        if not text.strip():
            raise RetryScheduleError(
                "the retry schedule is empty: give delays such as '5s,5m,30m,2h'"
            )
        delays: list[float] = []
        for position, item in enumerate(items, start=1):
            match = _DELAY.fullmatch(item)
            if match is None:
                shown = item[:30] or "nothing"
                raise RetryScheduleError(
                    f"retry schedule delay {position} is {shown!r}: write a number and a unit "
                    "s, m, h or d, e.g. '5s,5m,30m,2h'"
                )
            delays.append(float(match[1]) * _UNITS[match[2]])
        return cls(
            delays_s=tuple(delays),
            jitter=jitter,
            disable_after_s=disable_after_s,
            max_retry_after_s=max_retry_after_s,
        )

    def __str__(self) -> str:
        """The schedule in ``parse``'s syntax (for ``--help`` and logs)."""
        return ",".join(_format_delay(delay) for delay in self.delays_s)

    def delay_s(self, failures: int) -> float:
        """The unjittered wait after the ``failures``-th failed attempt in a row (from 1)."""
        if failures < 1:
            raise ValueError("failures counts the attempt just made: at least 1")
        return self.delays_s[min(failures, len(self.delays_s)) - 1]

    def next_step(
        self,
        attempts_so_far: int,
        status: int | None,
        retry_after: str | None,
        failing_since: int | None,
        now: int,
        *,
        rng: random.Random | None = None,
    ) -> Decision:
        """What to do after an attempt (see ``next_step``)."""
        if status is not None and 200 <= status <= 299:
            return Decision(outcome=Outcome.delivered, reason=f"HTTP {status}")
        since = now if failing_since is None else failing_since
        answer = "no answer" if status is None else f"HTTP {status}"
        if status == GONE:
            return Decision(
                outcome=Outcome.disable,
                failing_since=since,
                reason="HTTP 410 Gone: the target asked for no more deliveries",
            )
        if now - since >= self.disable_after_s * MICROS:
            return Decision(
                outcome=Outcome.disable,
                failing_since=since,
                reason=f"{answer}; failing for {_format_delay((now - since) / MICROS)}, "
                f"the limit is {_format_delay(self.disable_after_s)}",
            )
        delay = self.delay_s(attempts_so_far)
        factor = 1 + (_RNG if rng is None else rng).uniform(-self.jitter, self.jitter)
        retry_at = now + round(delay * factor * MICROS)
        reason = (
            f"{answer}; attempt {attempts_so_far} failed, next after {_format_delay(delay)} "
            f"±{self.jitter:.0%}"
        )
        if status in RETRY_AFTER_STATUSES and retry_after is not None:
            wanted = parse_retry_after(retry_after, now)
            if wanted is not None:
                capped = min(wanted, now + round(self.max_retry_after_s * MICROS))
                if capped > retry_at:
                    retry_at = capped
                    reason = f"{answer}; Retry-After {retry_after.strip()[:40]!r}"
        return Decision(
            outcome=Outcome.retry, retry_at=retry_at, failing_since=since, reason=reason
        )


STANDARD = RetrySchedule()


def next_step(
    attempts_so_far: int,
    status: int | None,
    retry_after: str | None,
    failing_since: int | None,
    now: int,
    *,
    schedule: RetrySchedule = STANDARD,
    rng: random.Random | None = None,
) -> Decision:
    """What to do after an attempt of a delivery.

    ``attempts_so_far`` counts the attempts made, this one included (1 after the first);
    ``status`` is the answer's status, None when there was none (refused, timed out, a target the
    rules refuse); ``retry_after`` the answer's ``Retry-After`` header; ``failing_since`` the
    subscription's (None when it was not failing); ``now`` when the attempt ended (µs). ``rng``
    draws the jitter (a module-wide generator when None; tests pass a seeded one).
    """
    return schedule.next_step(attempts_so_far, status, retry_after, failing_since, now, rng=rng)


def parse_retry_after(value: str, now: int) -> int | None:
    """When ``Retry-After`` allows the next attempt (µs): ``now`` plus its seconds, or its HTTP
    date. None when it is neither (a malformed header is ignored, not obeyed)."""
    text = value.strip()
    if text.isascii() and text.isdigit():
        return now + min(int(text), 10**9) * MICROS
    try:
        moment = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if moment.tzinfo is None:  # "-0000" in an HTTP date: UTC, says RFC 5322
        moment = moment.replace(tzinfo=UTC)
    try:
        return round(moment.timestamp() * MICROS)
    except (OverflowError, OSError, ValueError):  # pragma: no cover - a year out of range
        return None


def _format_delay(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{int(seconds)}s" if seconds == int(seconds) else f"{seconds:g}s"


_RNG = random.Random()
"""Jitter for callers that pass no generator: not security-sensitive, only spreading load."""

DEFAULT_DELAYS_TEXT = str(STANDARD)
"""``"5s,5m,30m,2h,5h,10h,14h,20h,1d"``: the default of ``--retry-schedule``."""
