"""Where the client's settings come from: arguments first, then the environment, then defaults.

Kept apart from the client so that the CLI and the triggers can show the same defaults.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from urllib.parse import urlsplit

import platformdirs

from api_client.contract import (
    API_PREFIX,
    DEFAULT_BASE_URL,
    DEFAULT_PER_HOUR,
    DEFAULT_PER_MINUTE,
)
from api_client.errors import InvalidArgumentError, shown

TOKEN_ENV = "MXGUARD_API_TOKEN"
URL_ENV = "MXGUARD_API_URL"
RATE_LIMITS_ENV = "MXGUARD_RATE_LIMITS"
"""``120/min,6000/h``: the token's limits, when MxGuard raised them for it."""
RATE = re.compile(r"\s*(\d{1,9})\s*/\s*(min|minute|h|hour)\s*")
DISTRIBUTION = "mxguard-connector"

DEFAULT_TIMEOUT: tuple[float, float] = (5.0, 30.0)
"""Seconds to connect, and to wait for each read of the answer."""
DEFAULT_MAX_RATE_LIMIT_WAIT = 90.0
"""Longest single wait for the rate limits (a full minute window plus slack); beyond it the
client raises instead of sleeping, so a poll can stop and resume later."""

Clock = Callable[[], float]
"""Wall-clock time in Unix seconds (``time.time``): ``X-RateLimit-Reset`` and HTTP dates in
``Retry-After`` are absolute, and the shared rate-limit file is read by several processes."""
Sleep = Callable[[float], None]
Jitter = Callable[[float], float]
"""Maps a computed back-off delay to the delay actually slept."""


def package_version() -> str:
    try:
        return metadata.version(DISTRIBUTION)
    except metadata.PackageNotFoundError:
        return "0+unknown"


def user_agent() -> str:
    return f"mxguard-connector/{package_version()}"


def resolve_base_url(base_url: str | None) -> str:
    """``base_url``, else ``$MXGUARD_API_URL``, else the public API; without ``/api/v1``."""
    raw = base_url or os.environ.get(URL_ENV) or DEFAULT_BASE_URL
    url = raw.strip().rstrip("/")
    if url.endswith(API_PREFIX):
        url = url[: -len(API_PREFIX)]
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"base_url must be an http(s) URL such as {DEFAULT_BASE_URL}")
    return url


def default_rate_limit_db() -> Path:
    """One file per user and machine, so every process using a token shares its budget."""
    return Path(platformdirs.user_cache_dir(DISTRIBUTION)) / "rate-limits.sqlite"


def parse_rate(text: str, name: str) -> tuple[int, str]:
    """``"120/min"`` -> ``(120, "min")``; ``InvalidArgumentError`` naming ``name`` otherwise."""
    match = RATE.fullmatch(text)
    if match is None or int(match[1]) < 1:
        raise InvalidArgumentError(
            f"{name}: {shown(text)} is not a rate such as 120/min or 6000/h", param=name
        )
    return int(match[1]), "min" if match[2].startswith("min") else "h"


def parse_rate_limits(text: str, name: str = RATE_LIMITS_ENV) -> tuple[int | None, int | None]:
    """``"120/min,6000/h"`` (either part may be left out) -> (per minute, per hour)."""
    per_minute = per_hour = None
    for part in text.split(","):
        count, unit = parse_rate(part, name)
        if unit == "min":
            per_minute = count
        else:
            per_hour = count
    return per_minute, per_hour


def resolve_rate_limits(per_minute: int | None, per_hour: int | None) -> tuple[int, int]:
    """The token's limits: arguments first, then ``$MXGUARD_RATE_LIMITS``, then the documented
    60/min and 600/h."""
    env_minute, env_hour = parse_rate_limits(os.environ.get(RATE_LIMITS_ENV) or "60/min,600/h")
    minute = per_minute or env_minute or DEFAULT_PER_MINUTE
    hour = per_hour or env_hour or DEFAULT_PER_HOUR
    if minute >= hour:
        raise InvalidArgumentError(
            f"rate limits: {minute}/min is not below {hour}/h", param="rate_limits"
        )
    return minute, hour
