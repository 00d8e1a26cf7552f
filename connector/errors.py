"""Everything an operation, a cursor store, an export or a scaffold raises, as one tree.

``except MxGuardError`` catches all of it; the root and the client's branch live in
``api_client/errors.py`` (which draws that branch in full), the action and trigger errors beside
their code, the connector's own ones here. Every name is importable from this module. The
number is the exit code of the ``mxguard`` command line (the table is ``connector.exits``)::

    MxGuardError                          api_client.errors: the root          1
     ├── InvalidTokenError                    token missing or malformed           4
     ├── APIConnectionError                   MxGuard unreachable                  8
     ├── MalformedResponseError               an answer that is not the contract  8
     ├── APIError                             an error status (see api_client/errors.py)
     │    ├── InvalidRequestError                 400, 422; InvalidArgumentError    3
     │    ├── AuthenticationError                 401                               4
     │    ├── NotFoundError                       404                               5
     │    ├── ConflictError                       409                               6
     │    ├── RateLimitedError                    429                               7
     │    └── ServerError                         5xx                               8
     ├── ActionConflictError              actions.base: the account's state refuses it  6
     ├── CursorHeldError                  triggers.store: another poller holds it     6
     ├── CursorStoreError                 the cursor file cannot be used or written   1
     │    └── CursorStoreFileError            the --state path is not a cursor file   2
     ├── ScaffoldError                    a scaffold name or place that cannot work   2
     ├── SignatureError                   bridge.signing: a webhook that does not verify 3
     ├── TargetRefusedError               bridge.targets: a target the rules refuse   3
     ├── RetryScheduleError               bridge.retry: a --retry-schedule that cannot work 2
     ├── SecretBoxError                   bridge.secrets_box: the key cannot seal or open 1
     │    ├── KeyFileError                    the key file is unsafe or unreadable    1
     │    └── WrongKeyError                   sealed with another key                 1
     ├── BridgeStorageError               bridge.storage: the database cannot be used 1
     │    ├── BridgeStorageFileError          bridge.sqlite: --data holds no bridge file 2
     │    └── PostgresStorageError            bridge.postgres: --db unreachable or other 1
     ├── LeaseLostError                   bridge.storage: a worker's lease was taken over 1
     ├── CursorResetRefusedError          bridge.outbox: a pump's cursor never restarts 1
     ├── BulkError                        connector.bulk: a result file not written  1
     │    ├── BulkFileError                   the input file cannot be read          2
     │    ├── InvalidRowsError                rows that cannot be sent; none sent    3
     │    ├── JournalError                    the journal cannot be used             2
     │    │    └── JournalMismatchError           another file's, server's or token's 2
     │    ├── JournalInUseError               another run applies this journal      6
     │    └── ResultsFileError                the result file's place cannot work    2
     └── ExportError                      the manifests cannot be exported; ValueError 1
          └── ExportOptionError               an export option that cannot work       2
               └── ExportFolderError              --out is not an earlier export;     2
                                                  also a FileExistsError

Input that fails validation before anything is sent is a pydantic ``ValidationError`` (exit 3),
as pydantic raises it; ``OutputClosedError`` (``| head``, exit 141) is control flow, not an
error of an operation.
"""

from __future__ import annotations

from typing import Any

from actions.base import ActionConflictError
from api_client.errors import (
    APIConnectionError,
    APIError,
    APITimeoutError,
    AuthenticationError,
    ConflictError,
    InvalidArgumentError,
    InvalidRequestError,
    InvalidTokenError,
    MalformedResponseError,
    MxGuardError,
    NotFoundError,
    RateBudgetExhaustedError,
    RateLimitedError,
    ServerError,
)
from bridge.outbox import CursorResetRefusedError
from bridge.postgres import PostgresStorageError
from bridge.retry import RetryScheduleError
from bridge.secrets_box import KeyFileError, SecretBoxError, WrongKeyError
from bridge.signing import SignatureError
from bridge.sqlite import BridgeStorageFileError
from bridge.storage import BridgeStorageError, LeaseLostError
from bridge.targets import TargetRefusedError
from connector.bulk.errors import (
    BulkError,
    BulkFileError,
    InvalidRowsError,
    JournalError,
    JournalInUseError,
    JournalMismatchError,
    ResultsFileError,
)
from triggers.store import CursorHeldError

__all__ = [
    "APIConnectionError",
    "APIError",
    "APITimeoutError",
    "ActionConflictError",
    "AuthenticationError",
    "BridgeStorageError",
    "BridgeStorageFileError",
    "BulkError",
    "BulkFileError",
    "ConflictError",
    "CursorHeldError",
    "CursorResetRefusedError",
    "CursorStoreError",
    "CursorStoreFileError",
    "ExportError",
    "ExportFolderError",
    "ExportOptionError",
    "InvalidArgumentError",
    "InvalidRequestError",
    "InvalidRowsError",
    "InvalidTokenError",
    "JournalError",
    "JournalInUseError",
    "JournalMismatchError",
    "KeyFileError",
    "LeaseLostError",
    "MalformedResponseError",
    "MxGuardError",
    "NotFoundError",
    "PostgresStorageError",
    "RateBudgetExhaustedError",
    "RateLimitedError",
    "ResultsFileError",
    "RetryScheduleError",
    "ScaffoldError",
    "SecretBoxError",
    "ServerError",
    "SignatureError",
    "TargetRefusedError",
    "WrongKeyError",
]


class CursorStoreError(MxGuardError):
    """The state file cannot be used or written; the message names the path and the cause."""


class CursorStoreFileError(CursorStoreError):
    """The path given for the state is not a usable cursor file (a folder, a device, another
    program's database, a folder that does not exist or cannot be written)."""


class ScaffoldError(MxGuardError):
    """The name or the place is not right; the message says how to fix it."""


class ExportError(MxGuardError, ValueError):
    """The manifests cannot be exported for a platform (a format the exporter does not read, a
    rule the platform cannot express); nothing was written. A ``ValueError`` too."""


class ExportOptionError(ExportError):
    """An export option that cannot work; ``param`` names it (``--base-url``, ``--out``)."""


class ExportFolderError(ExportOptionError, FileExistsError):
    """``--out`` exists and is not an earlier export: it is never replaced. A
    ``FileExistsError`` too."""

    def __reduce__(self) -> tuple[Any, ...]:
        """Picklable: an ``OSError`` cannot be made by ``MxGuardError``'s way."""
        return (type(self), (self.message,), dict(self.__dict__))
