"""Sandbox tokens: ``mxg_test_`` + 43 URL-safe characters, stored only as SHA-256 hashes."""

from __future__ import annotations

import hashlib
import re
import secrets

TEST_PREFIX = "mxg_test_"
TOKEN_BODY_LENGTH = 43
TOKEN_PATTERN = re.compile(r"mxg_(live|test)_[A-Za-z0-9_-]{43}")
"""Matched against the whole value (``fullmatch``: ``$`` would also match before a newline)."""


def new_token() -> str:
    """A fresh sandbox token (``secrets.token_urlsafe(32)`` is exactly 43 characters)."""
    return TEST_PREFIX + secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def looks_like_token(token: str) -> bool:
    return TOKEN_PATTERN.fullmatch(token) is not None


def redact(token: str) -> str:
    """What may be shown of a token: its prefix and four characters."""
    return token[:13] + "…" if len(token) > 13 else "…"


def new_id(prefix: str) -> str:
    """Opaque object id, e.g. ``vrd_3f9c0e5a7b1d2c4e6f8a0b1c``."""
    return f"{prefix}_{secrets.token_hex(12)}"
