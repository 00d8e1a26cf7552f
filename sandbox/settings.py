"""How a sandbox instance is configured (the ``mxguard sandbox`` flags)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from api_client.contract import DEFAULT_PER_HOUR, DEFAULT_PER_MINUTE
from sandbox.tokens import new_token


@dataclass(frozen=True)
class SandboxSettings:
    db_path: str | None = None
    """SQLite file; ``None`` keeps everything in memory."""
    seed: Literal["demo", "empty"] = "demo"
    token: str = field(default_factory=new_token)
    """The first customer's token."""
    admin_token: str = field(default_factory=new_token)
    """Guards the ``/_sandbox/`` simulation API."""
    rate_per_minute: int = DEFAULT_PER_MINUTE
    rate_per_hour: int = DEFAULT_PER_HOUR
    seed_random: int = 2026
    """Seed of the demo data generator, so a demo account is the same every time."""
