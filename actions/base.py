"""What an action or search is: a validated input model, its HTTP mapping, an output.

An action is described, not coded: its request, what success answers and what a repeat answers
(``actions/repeat.py``) are data, run in Python by the reference interpreter
(``actions/perform.py``) and exported as they are to every platform. Actions are run again by
no-code platforms whenever a step is retried, so each one says what a repeat does (``on_repeat``
in words, ``http.repeat`` as a rule), and the outputs carry an ``outcome`` saying what happened.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict

from actions.errors import ActionConflictError as ActionConflictError
from actions.perform import perform
from actions.repeat import ActionHttp
from api_client import MxGuardClient

In = TypeVar("In", bound=BaseModel)
ActionKind = Literal["create", "update", "delete", "search"]


class ActionInput(BaseModel):
    """Inputs are strict: an unknown field is a typo, and says so; a value of the wrong type is
    refused rather than converted (``true`` is not the number 1, ``7.0`` or ``"7"`` not 7, a
    number not a string). The error names the field, and quotes a long value only in part."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, strict=True)


@dataclass(frozen=True, kw_only=True)
class ActionDefinition(Generic[In]):
    """One action or search; manifests, exports and the CLI are derived from it."""

    key: str
    noun: str
    label: str
    description: str
    kind: ActionKind
    input: type[In]
    output: type[BaseModel]
    http: ActionHttp
    on_repeat: str
    """What running it again with the same input does (platforms retry), in words."""
    sample: Mapping[str, Any]
    """A realistic result, shown by platforms before a first real run."""
    dropdowns: frozenset[str] = field(default_factory=frozenset)
    """Inputs offered as a dropdown of the account's domains."""

    def execute(self, client: MxGuardClient, raw: Mapping[str, Any] | In) -> Any:
        """Validate (before any request) and run; returns a model, or a list for searches."""
        data = raw if isinstance(raw, self.input) else self.input.model_validate(raw)
        result = perform(
            self.http,
            search=self.kind == "search",
            inputs=data.model_dump(mode="json"),
            send=lambda request, inputs, extra=None: client.send(request, inputs, extra).data,
            now=datetime.fromtimestamp(client.clock(), UTC),
        )
        if isinstance(result, list):
            return [self.output.model_validate(item) for item in result]
        return self.output.model_validate(result)
