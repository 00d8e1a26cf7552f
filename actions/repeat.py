"""What running an action again means: a closed vocabulary of four repeat rules.

No-code platforms retry a failed step and people re-run workflows, so an action's second run
often meets the state its first run left. Each action names the one error status that a repeat
produces and which of these four shapes it has; ``actions/perform.py`` is the reference
interpreter, and every exporter handles each shape (a fifth shape fails their type checks, since
each matches on ``RepeatRule`` exhaustively).

- ``Absent``: a removal whose object is gone already. The result is what a removal answers.
- ``Existing``: a creation whose object exists already. It is returned when its fields are those
  asked for; otherwise the rule's error says what differs.
- ``Current``: a change whose object is already in the target state (a message released twice).
  It is returned; in any other state the rule's error says why the change cannot be made.
- ``Empty``: a search by key that found nothing answers an empty list.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, model_validator

from api_client.mapping import HttpRequest, Pagination, Param, Strict


class Absent(Strict):
    """The object to remove is not there: answer ``result`` and ``outcome`` as a removal would."""

    shape: Literal["absent"] = "absent"
    status: int = 404
    outcome: str
    result: list[Param] = Field(description="The result, made of inputs (as for a 204).")
    check: HttpRequest | None = Field(
        default=None,
        description="Sent first; its own error is the answer (e.g. the rule's domain must exist, "
        "as a 404 for a rule is 'already absent' only while its domain is there).",
    )


class Existing(Strict):
    """The object to create exists already: return it when it is the same, else an error."""

    shape: Literal["existing"] = "existing"
    status: int = 409
    outcome: str
    lookup: HttpRequest = Field(description="Fetches the existing object, or a list holding it.")
    find_in: str | None = Field(default=None, description="The lookup answers a list here...")
    match: dict[str, str] = Field(
        default_factory=dict, description="...and it is the item whose field equals this input."
    )
    same: dict[str, str] = Field(
        description="Object field -> input: the object is the one asked for when all are equal."
    )
    error: str = Field(description="When it differs; {name} is an input or an object field.")

    @model_validator(mode="after")
    def _match_with_list(self) -> Existing:
        if bool(self.find_in) != bool(self.match):
            raise ValueError("find_in and match go together: a list, and which item is meant")
        return self


class Current(Strict):
    """The object is already in the target state when ``field`` equals ``value``."""

    shape: Literal["current"] = "current"
    status: int = 409
    outcome: str
    lookup: HttpRequest = Field(description="Fetches the object.")
    field: str
    value: Any
    error: str = Field(description="When it is in another state; {name} is an object field.")


class Empty(Strict):
    """A search by key whose object is not there found nothing."""

    shape: Literal["empty"] = "empty"
    status: int = 404


RepeatRule = Annotated[Absent | Existing | Current | Empty, Field(discriminator="shape")]


class PagedSearch(Strict):
    """A search over a listing's pages, filtered on the client side."""

    max_pages: int = Field(description="Pages read at most before the search gives up.")
    result_limit_input: str | None = Field(
        default=None, description="The input that caps how many results return."
    )
    client_filters: dict[str, str] = Field(
        default_factory=dict,
        description="Keep items whose field contains this input (case-insensitive).",
    )
    pagination: Pagination = Field(default_factory=Pagination)


class ActionHttp(Strict):
    """An action's whole mapping: the request, what success answers, what a repeat answers."""

    request: HttpRequest
    success_outcome: str | None = None
    success_result: list[Param] = Field(
        default_factory=list, description="The result of an answer without a body (204)."
    )
    repeat: RepeatRule | None = None
    search: PagedSearch | None = None
