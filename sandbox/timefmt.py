"""One timestamp format everywhere: RFC 3339, UTC, six fractional digits, ``Z``."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from api_client.contract import MICROS

RFC3339 = re.compile(
    r"^(?P<date>\d{4}-\d{2}-\d{2})[Tt ](?P<hm>\d{2}:\d{2}):(?P<second>\d{2})"
    r"(?P<fraction>\.\d+)?(?P<offset>[Zz]|[+-]\d{2}:\d{2})$"
)


EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
EARLIEST_US = int((datetime(1, 1, 2, tzinfo=UTC) - EPOCH).total_seconds()) * MICROS
LATEST_US = int((datetime(9999, 12, 30, tzinfo=UTC) - EPOCH).total_seconds()) * MICROS


def format_us(us: int) -> str:
    """``1763924112123456`` -> ``2025-11-23T18:55:12.123456Z``."""
    value = EPOCH + timedelta(microseconds=us)
    return value.strftime("%Y-%m-%dT%H:%M:%S.%f").rjust(26, "0") + "Z"


def parse_to_us(text: str) -> int:
    """Parse an RFC 3339 timestamp with an explicit offset; raise ValueError otherwise.

    A leap second (``:60``) is read as the last microsecond of the minute before it; times at the
    very ends of the calendar are clamped to the range every format can print.
    """
    match = RFC3339.match(text.strip())
    if not match:
        raise ValueError(f"{text!r} is not an RFC 3339 timestamp like 2026-11-23T18:55:12Z")
    leap = match["second"] == "60"
    normal = f"{match['date']}T{match['hm']}:{'59' if leap else match['second']}"
    normal += (match["fraction"] or "")[:7] + match["offset"].upper()
    value = datetime.fromisoformat(normal)
    if value.tzinfo is None:
        raise ValueError("a timestamp needs a time zone (e.g. 'Z' or '+00:00')")
    delta = value - EPOCH
    micros = (delta.days * 86_400 + delta.seconds) * MICROS + delta.microseconds
    micros += MICROS - 1 - value.microsecond if leap else 0
    return min(max(micros, EARLIEST_US), LATEST_US)
