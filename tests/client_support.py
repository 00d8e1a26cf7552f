"""Helpers shared by the ``test_client_*`` modules (no tests here).

Offline tests use ``responses`` with a well-formed fake token and a fake clock whose sleep only
moves time forward; sandbox tests use a real server and, for rate-limit waits, a ``SandboxTime``
aligned with the sandbox's own clock, so ``X-RateLimit-Reset`` means the same on both sides.
"""

from __future__ import annotations

import logging
import traceback
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from api_client import MxGuardClient
from sandbox.server import SandboxServer
from tests.support import Account, SandboxAdmin, SandboxTime

TOKEN = "mxg_test_S3cr3tT0k3n-_q8Zr2LwX5vB9nK1mT4yH7jD0pF6sA3"
"""Well-formed (43 characters after the prefix) and easy to spot if it ever leaks."""
BASE = "https://mxguard.test"
API = f"{BASE}/api/v1"
START = 1_800_000_000.0
"""Fake "now" (2027-01-15), a Unix time so that HTTP dates and resets make sense."""


class FakeTime:
    """A clock that moves only when the client sleeps; every sleep is recorded."""

    def __init__(self, start: float = START) -> None:
        self.now = start
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += max(0.0, seconds)


def no_jitter(delay: float) -> float:
    return delay


def offline_client(time: FakeTime, **options: Any) -> MxGuardClient:
    """A client for ``responses`` mocks: fake token, private rate budget, fake time, no jitter."""
    settings: dict[str, Any] = {
        "rate_limit_db": ":memory:",
        "clock": time.clock,
        "sleep": time.sleep,
        "jitter": no_jitter,
        **options,
    }
    return MxGuardClient(TOKEN, BASE, **settings)


def sandbox_client(
    sandbox: SandboxServer, account: Account, db: Path, **options: Any
) -> MxGuardClient:
    """A client of the running sandbox with the account's token and a file-backed budget."""
    return MxGuardClient(account.token, sandbox.base_url, rate_limit_db=db, **options)


def aligned_time(admin: SandboxAdmin) -> SandboxTime:
    """A ``SandboxTime`` starting at the sandbox's "now" (other tests may have moved it)."""
    start = datetime.fromisoformat(admin.now()).timestamp()
    return SandboxTime(admin, start=start)


def error_body(kind: str, message: str, param: str | None = None) -> dict[str, Any]:
    return {"error": {"type": kind, "message": message, "param": param}}


def echoes(token: str) -> dict[str, str]:
    """The forms a misbehaving server or proxy may echo a token in."""
    bare = token[len("mxg_test_") :]
    return {
        "whole": token,
        "upper-cased": token.upper(),
        "lower-cased": token.lower(),
        "without its prefix": bare,
        "one character short": token[:-1],
        "without its prefix, upper-cased": bare.upper(),
        "without its prefix, one character short": bare[1:],
    }


def assert_not_leaked(token: str, error: BaseException, caplog: pytest.LogCaptureFixture) -> None:
    """Nothing the user can see of ``error`` or the logs holds the token, whole or in part.

    No form of it (``echoes``), and no run of five characters of its body in any case: the
    redacted form ``mxg_test_S3cr…`` shows four. The error is chained to nothing that holds a
    request: no ``__context__``, and a ``__cause__`` only without a request or a traceback.
    """
    shown = [
        str(error),
        repr(error),
        "".join(traceback.format_exception(error)),
        caplog.text,
        *(record.getMessage() for record in caplog.records),
    ]
    body = token[len("mxg_test_") :].lower()
    pieces = {body[i : i + 5] for i in range(len(body) - 4)}
    for text in shown:
        for form, echoed in echoes(token).items():
            assert echoed not in text, f"the token leaked {form}"
        leaked = [piece for piece in pieces if piece in text.lower()]
        assert not leaked, f"part of the token leaked: {leaked}"
    assert error.__context__ is None
    cause = error.__cause__
    if cause is not None:
        assert cause.__traceback__ is None
        assert cause.__cause__ is None
        assert cause.__context__ is None
        assert getattr(cause, "request", None) is None
        assert getattr(cause, "response", None) is None


def capture_everything(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)


ME = {
    "id": "cus_1",
    "name": "Acme",
    "plan": "business",
    "created_at": "2026-11-23T18:55:12.123456Z",
    "token": {"id": "tok_1", "prefix": "mxg_test_S3cr…", "created_at": "2026-11-23T18:55:12Z"},
    "rate_limits": {"per_minute": 60, "per_hour": 600},
}
"""A ``/me`` answer for offline clients (its dates are never compared with a clock)."""
