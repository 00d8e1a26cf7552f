"""One timestamp format everywhere: RFC 3339, UTC, six fractional digits, ``Z``."""

from __future__ import annotations

from datetime import UTC, datetime

MICROS = 1_000_000


def format_us(us: int) -> str:
    """``1763924112123456`` -> ``2025-11-23T18:55:12.123456Z``."""
    seconds, micros = divmod(us, MICROS)
    stamp = datetime.fromtimestamp(seconds, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{stamp}.{micros:06d}Z"


def parse_to_us(text: str) -> int:
    """Parse an RFC 3339 timestamp with an explicit offset; raise ValueError otherwise."""
    value = datetime.fromisoformat(text.strip().replace("z", "Z"))
    if value.tzinfo is None:
        raise ValueError("a timestamp needs a time zone (e.g. 'Z' or '+00:00')")
    delta = value - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * MICROS + delta.microseconds
