"""What an action or search is: a validated input model, one job against the client, an output.

Actions are run again by no-code platforms whenever a step is retried, so each one says what a
repeat does (``on_repeat``), and the outputs carry an ``outcome`` saying what actually happened.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict

from api_client import MxGuardClient, MxGuardError

In = TypeVar("In", bound=BaseModel)
ActionKind = Literal["create", "update", "delete", "search"]


class ActionInput(BaseModel):
    """Inputs are strict: an unknown field is a typo, and says so; a value of the wrong type is
    refused rather than converted (``true`` is not the number 1, ``7.0`` or ``"7"`` not 7, a
    number not a string). The error names the field, and quotes a long value only in part."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, strict=True)


class ActionConflictError(MxGuardError):
    """The request cannot be done in the account's current state; says why and what to do.

    Raised after reading the account (so ``status`` is None); ``field`` names the input at fault.
    Part of the one error tree drawn in ``connector/errors.py``.
    """

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True, kw_only=True)
class ActionDefinition(Generic[In]):
    key: str
    noun: str
    label: str
    description: str
    kind: ActionKind
    input: type[In]
    output: type[BaseModel]
    run: Callable[[MxGuardClient, In], Any]
    on_repeat: str
    """What running it again with the same input does (platforms retry)."""

    def execute(self, client: MxGuardClient, raw: dict[str, Any] | In) -> Any:
        """Validate (before any request) and run; returns a model, or a list for searches."""
        data = raw if isinstance(raw, self.input) else self.input.model_validate(raw)
        return self.run(client, data)
