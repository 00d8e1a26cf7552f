"""The error an action raises itself, beside the client's (one tree: ``connector/errors.py``)."""

from __future__ import annotations

from api_client import MxGuardError


class ActionConflictError(MxGuardError):
    """The request cannot be done in the account's current state; says why and what to do.

    Raised after reading the account (so ``status`` is None); ``field`` names the input at fault.
    Part of the one error tree drawn in ``connector/errors.py``.
    """

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field
