"""Where the client's settings come from: arguments first, then the environment, then defaults.

Kept apart from the client so that the CLI and the triggers can show the same defaults.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from urllib.parse import urlsplit

import platformdirs

from api_client.contract import (
    API_PREFIX,
    DEFAULT_BASE_URL,
)

TOKEN_ENV = "MXGUARD_API_TOKEN"
URL_ENV = "MXGUARD_API_URL"
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
