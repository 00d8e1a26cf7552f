"""Exit codes and messages a script can rely on; never a traceback for a user error."""

from __future__ import annotations

import enum

from pydantic import ValidationError

from actions import ActionConflictError
from api_client import (
    APIConnectionError,
    AuthenticationError,
    ConflictError,
    InvalidRequestError,
    InvalidTokenError,
    MalformedResponseError,
    MxGuardError,
    NotFoundError,
    RateLimitedError,
    ServerError,
)
from connector.cursor_store import CursorStoreError


class Exit(enum.IntEnum):
    OK = 0
    FAILED = 1
    USAGE = 2
    INVALID_INPUT = 3
    AUTHENTICATION = 4
    NOT_FOUND = 5
    CONFLICT = 6
    RATE_LIMITED = 7
    UNAVAILABLE = 8
    INTERRUPTED = 130


def describe(error: BaseException) -> tuple[Exit, str]:
    """The exit code and the one-paragraph message for an error."""
    if isinstance(error, ValidationError):
        lines = []
        for problem in error.errors():
            where = ".".join(str(p) for p in problem["loc"]) or "input"
            lines.append(f"  {where}: {problem['msg'].removeprefix('Value error, ')}")
        return Exit.INVALID_INPUT, "invalid input:\n" + "\n".join(lines)
    if isinstance(error, ActionConflictError):
        return Exit.CONFLICT, f"conflict: {error.message}"
    if isinstance(error, CursorStoreError):
        return Exit.USAGE, f"cursor state: {error}"
    table: list[tuple[type[BaseException], Exit, str]] = [
        (InvalidTokenError, Exit.AUTHENTICATION, "token"),
        (AuthenticationError, Exit.AUTHENTICATION, "authentication failed"),
        (InvalidRequestError, Exit.INVALID_INPUT, "rejected by MxGuard"),
        (NotFoundError, Exit.NOT_FOUND, "not found"),
        (ConflictError, Exit.CONFLICT, "conflict"),
        (RateLimitedError, Exit.RATE_LIMITED, "rate limited"),
        (APIConnectionError, Exit.UNAVAILABLE, "MxGuard unreachable"),
        (ServerError, Exit.UNAVAILABLE, "MxGuard failed"),
        (MalformedResponseError, Exit.UNAVAILABLE, "unexpected answer from MxGuard"),
        (MxGuardError, Exit.FAILED, "error"),
    ]
    for kind, code, label in table:
        if isinstance(error, kind):
            return code, f"{label}: {error}"
    return Exit.FAILED, f"unexpected error: {type(error).__name__}: {error}"
