"""Exit codes and messages a script can rely on; never a traceback for a user error."""

from __future__ import annotations

import enum

import click
from pydantic import ValidationError

from actions import ActionConflictError
from api_client import (
    APIConnectionError,
    AuthenticationError,
    ConflictError,
    InvalidArgumentError,
    InvalidRequestError,
    InvalidTokenError,
    MalformedResponseError,
    MxGuardError,
    NotFoundError,
    RateLimitedError,
    ServerError,
)
from connector.cursor_store import CursorStoreError, CursorStoreFileError
from triggers.store import CursorHeldError

MESSAGE_LIMIT = 300
"""Characters of one message line at most: an error never echoes a huge input whole."""


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
    BROKEN_PIPE = 141
    """The reader of our output went away (``mxguard poll ... | head``): 128 + SIGPIPE."""
    TERMINATED = 143
    """SIGTERM: 128 + 15, as a shell reports it."""


class CommandError(click.ClickException):
    """An error the command line reports as one line, ``mxguard: ...``, with its exit code."""

    exit_code = int(Exit.FAILED)

    def __init__(self, message: str) -> None:
        super().__init__(shorten(message))

    def show(self, file: object = None) -> None:
        click.echo(f"mxguard: {self.format_message()}", err=True)


class InvalidInputError(CommandError):
    """An operation's input (a flag, ``--input``, ``--since``) that cannot be sent."""

    exit_code = int(Exit.INVALID_INPUT)


class UsageError(CommandError):
    """A command-line option that cannot work (not an operation's input)."""

    exit_code = int(Exit.USAGE)


class AuthenticationMissingError(CommandError):
    exit_code = int(Exit.AUTHENTICATION)


def shorten(text: str, limit: int = MESSAGE_LIMIT) -> str:
    """Each line cut to ``limit`` characters, saying how much was left out."""
    return "\n".join(
        line if len(line) <= limit else f"{line[:limit]}… ({len(line) - limit:,} more characters)"
        for line in text.splitlines() or [""]
    )


def describe(error: BaseException) -> tuple[Exit, str]:
    """The exit code and the one-paragraph message for an error."""
    if isinstance(error, ValidationError):
        lines = []
        for problem in error.errors():
            where = ".".join(str(p) for p in problem["loc"]) or "input"
            lines.append(f"  {where}: {problem['msg'].removeprefix('Value error, ')}")
        return Exit.INVALID_INPUT, shorten("invalid input:\n" + "\n".join(lines))
    if isinstance(error, ActionConflictError):
        return Exit.CONFLICT, shorten(f"conflict: {error.message}")
    if isinstance(error, CursorHeldError):
        return Exit.CONFLICT, f"cursor in use: {error}"
    if isinstance(error, CursorStoreFileError):
        return Exit.USAGE, f"cursor state: {error}"
    if isinstance(error, CursorStoreError):
        return Exit.FAILED, f"cursor state: {error}"
    table: list[tuple[type[BaseException], Exit, str]] = [
        (InvalidTokenError, Exit.AUTHENTICATION, "token"),
        (AuthenticationError, Exit.AUTHENTICATION, "authentication failed"),
        (InvalidArgumentError, Exit.INVALID_INPUT, "invalid input"),
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
            return code, shorten(f"{label}: {error}")
    return Exit.FAILED, shorten(f"unexpected error: {type(error).__name__}: {error}")
