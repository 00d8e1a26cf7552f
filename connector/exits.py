"""Exit codes and messages a script can rely on; never a traceback for a user error."""

from __future__ import annotations

import enum

import click
from pydantic import ValidationError

from connector.errors import (
    ActionConflictError,
    APIConnectionError,
    AuthenticationError,
    BridgeStorageFileError,
    BulkError,
    BulkFileError,
    ConflictError,
    CursorHeldError,
    CursorStoreError,
    CursorStoreFileError,
    ExportError,
    ExportOptionError,
    InvalidArgumentError,
    InvalidRequestError,
    InvalidRowsError,
    InvalidTokenError,
    JournalError,
    JournalInUseError,
    MalformedResponseError,
    MxGuardError,
    NotFoundError,
    RateLimitedError,
    ResultsFileError,
    RetryScheduleError,
    ScaffoldError,
    ServerError,
    SignatureError,
    TargetRefusedError,
)

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


class AuthenticationMissingError(CommandError):
    exit_code = int(Exit.AUTHENTICATION)


def shorten(text: str, limit: int = MESSAGE_LIMIT) -> str:
    """Each line cut to ``limit`` characters, saying how much was left out."""
    return "\n".join(
        line if len(line) <= limit else f"{line[:limit]}… ({len(line) - limit:,} more characters)"
        for line in text.splitlines() or [""]
    )


class OperationError(CommandError):
    """An error of the tree in ``connector/errors.py`` (or invalid input) as the command line
    reports it: ``operation_error`` makes one, of the subclass carrying the exit code that
    ``EXIT_CODES`` gives; the error itself is its ``__cause__``."""


def _coded(code: Exit) -> type[OperationError]:
    class CodedError(OperationError):
        exit_code = int(code)

    CodedError.__name__ = CodedError.__qualname__ = f"OperationError{int(code)}"
    return CodedError


OPERATION_ERRORS = {code: _coded(code) for code in Exit}
"""One ``OperationError`` subclass per exit code."""


def operation_error(error: BaseException) -> OperationError:
    """The ``click.ClickException`` reporting ``error`` with its message and exit code."""
    code, message = describe(error)
    failure = OPERATION_ERRORS[code](message)
    failure.__cause__ = error
    return failure


EXIT_CODES: list[tuple[type[MxGuardError], Exit, str]] = [
    (InvalidTokenError, Exit.AUTHENTICATION, "token"),
    (AuthenticationError, Exit.AUTHENTICATION, "authentication failed"),
    (InvalidArgumentError, Exit.INVALID_INPUT, "invalid input"),
    (InvalidRequestError, Exit.INVALID_INPUT, "rejected by MxGuard"),
    (NotFoundError, Exit.NOT_FOUND, "not found"),
    (ConflictError, Exit.CONFLICT, "conflict"),
    (ActionConflictError, Exit.CONFLICT, "conflict"),
    (CursorHeldError, Exit.CONFLICT, "cursor in use"),
    (RateLimitedError, Exit.RATE_LIMITED, "rate limited"),
    (APIConnectionError, Exit.UNAVAILABLE, "MxGuard unreachable"),
    (ServerError, Exit.UNAVAILABLE, "MxGuard failed"),
    (MalformedResponseError, Exit.UNAVAILABLE, "unexpected answer from MxGuard"),
    (CursorStoreFileError, Exit.USAGE, "cursor state"),
    (CursorStoreError, Exit.FAILED, "cursor state"),
    (ScaffoldError, Exit.USAGE, "scaffold"),
    (SignatureError, Exit.INVALID_INPUT, "signature"),
    (TargetRefusedError, Exit.INVALID_INPUT, "target refused"),
    (RetryScheduleError, Exit.USAGE, "retry schedule"),
    (BridgeStorageFileError, Exit.USAGE, "bridge data"),
    (BulkFileError, Exit.USAGE, "input file"),
    (InvalidRowsError, Exit.INVALID_INPUT, "invalid input"),
    (JournalInUseError, Exit.CONFLICT, "journal in use"),
    (JournalError, Exit.USAGE, "journal"),
    (ResultsFileError, Exit.USAGE, "results"),
    (BulkError, Exit.FAILED, "bulk"),
    (ExportOptionError, Exit.USAGE, "export"),
    (ExportError, Exit.FAILED, "export failed"),
    (MxGuardError, Exit.FAILED, "error"),
]
"""Every error of the tree (``connector/errors.py``) and its exit code, most specific first:
the first row the error is an instance of gives the code and the message's label."""


def exit_code(error: BaseException) -> tuple[Exit, str]:
    """The exit code and label of an error, from ``EXIT_CODES``."""
    for kind, code, label in EXIT_CODES:
        if isinstance(error, kind):
            return code, label
    return Exit.FAILED, f"unexpected error: {type(error).__name__}"


def describe(error: BaseException) -> tuple[Exit, str]:
    """The exit code and the one-paragraph message for an error."""
    if isinstance(error, ValidationError):
        lines = []
        for problem in error.errors():
            where = ".".join(str(p) for p in problem["loc"]) or "input"
            lines.append(f"  {where}: {problem['msg'].removeprefix('Value error, ')}")
        return Exit.INVALID_INPUT, shorten("invalid input:\n" + "\n".join(lines))
    code, label = exit_code(error)
    return code, shorten(f"{label}: {error}")
