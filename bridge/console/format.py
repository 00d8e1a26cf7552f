"""How the console writes times, durations and rates: UTC everywhere (the bridge's, MxGuard's and
the operator's clocks agree on it), short relative forms for what changes every refresh."""

from __future__ import annotations

import time

from api_client.contract import MICROS


def when(us: int | None) -> str:
    """``2026-12-02 14:32:05 UTC``; ``never`` for None."""
    if us is None:
        return "never"
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(us // MICROS))


def duration(us: int | None) -> str:
    """``45 s``, ``12 min``, ``3 h 05 min``, ``2 d 4 h``."""
    if us is None:
        return "-"
    total = max(0, us) // MICROS
    if total < 120:
        return f"{total} s"
    minutes = total // 60
    if minutes < 120:
        return f"{minutes} min"
    hours = minutes // 60
    if hours < 48:
        return f"{hours} h {minutes % 60:02d} min"
    return f"{hours // 24} d {hours % 24} h"


def ago(us: int | None, now: int) -> str:
    """``12 s ago``; ``never`` for None."""
    if us is None:
        return "never"
    return f"{duration(now - us)} ago"


def local_input(us: int) -> str:
    """A ``datetime-local`` input's value for ``us``, in UTC, to the second."""
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(us // MICROS))
