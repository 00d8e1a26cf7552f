"""The manifest format, as pydantic models; ``manifests/manifest.schema.json`` is generated from it.

A manifest says everything a platform integration needs without reading Python: inputs with help
text, choices and dynamic dropdowns; the HTTP request, pagination and, for triggers, the id and
timestamp fields and ordering; what a repeat does (status rules); output fields; a sample.
Values in requests come from an input (``input``), a constant (``value``), or "now minus N days"
(``days_ago_input``).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from api_client.contract import MAX_PAGE_SIZE

FORMAT_VERSION = 1
FieldType = Literal["string", "integer", "number", "boolean", "datetime", "object", "array"]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DynamicChoices(Strict):
    """A dropdown filled from the API (e.g. the account's domains)."""

    source: str = Field(description="Key of a list source in connector.json.")
    value: str = Field(description="Item field sent as the value.")
    label: str = Field(description="Item field shown to people.")


class InputField(Strict):
    key: str
    label: str
    type: FieldType = "string"
    required: bool = False
    help: str = ""
    default: Any = None
    choices: list[str] | None = None
    multiple: bool = False
    format: Literal["hostname", "sender_pattern", "object_id"] | None = Field(
        default=None,
        description="hostname: IDNs to punycode, lower case; sender_pattern: a@b.com, b.com or "
        "*@b.com (its domain as hostname); object_id: letters, digits, '_' and '-'.",
    )
    min: float | None = None
    max: float | None = None
    max_length: int | None = None
    dynamic: DynamicChoices | None = None


class OutputField(Strict):
    key: str
    label: str
    type: FieldType
    primary: bool = False


class Param(Strict):
    """One value of a request: from an input, a constant, or now minus an input's days."""

    name: str
    input: str | None = None
    value: Any = None
    days_ago_input: str | None = None


class HttpRequest(Strict):
    method: Literal["GET", "POST", "PATCH", "DELETE"]
    path: str = Field(description="Under the base URL; {key} is replaced by that input.")
    query: list[Param] = Field(default_factory=list)
    body: list[Param] = Field(default_factory=list)


class Pagination(Strict):
    items: str = "data"
    has_more: str = "has_more"
    next_cursor: str = "next_cursor"
    cursor_param: str = "cursor"
    limit_param: str = "limit"
    max_limit: int = MAX_PAGE_SIZE


class Polling(Strict):
    id_field: str = "id"
    time_field: str
    since_param: str = "since"
    order_param: str = "order"
    lateness_bound_s: float
    look_back_every_s: float


class StatusRule(Strict):
    """What an answer with ``status`` means for this action (platforms retry steps)."""

    status: int
    outcome: str | None = Field(default=None, description="Set as the result's 'outcome'.")
    lookup: HttpRequest | None = Field(
        default=None, description="Fetch the current object to decide (instead of failing)."
    )
    find_in: str | None = Field(default=None, description="The lookup answers a list here...")
    match: dict[str, str] = Field(
        default_factory=dict, description="...and the item whose field equals this input is it."
    )
    accept_if: dict[str, Param] = Field(
        default_factory=dict,
        description="The object's fields must equal these values, or it is an error.",
    )
    result: list[Param] = Field(
        default_factory=list, description="Without a lookup: the result is made of these."
    )
    empty: bool = Field(default=False, description="A search that found nothing.")
    error: str | None = Field(
        default=None, description="Message when accept_if fails; {field} names an object field."
    )


class Operation(Strict):
    format_version: int = FORMAT_VERSION
    key: str
    kind: Literal["trigger", "create", "update", "delete", "search"]
    noun: str
    label: str
    description: str
    on_repeat: str | None = None
    inputs: list[InputField]
    request: HttpRequest
    pagination: Pagination | None = None
    polling: Polling | None = None
    success_outcome: str | None = None
    success_result: list[Param] = Field(
        default_factory=list, description="The result of an answer without a body (204)."
    )
    max_pages: int | None = Field(default=None, description="Search only: pages read at most.")
    result_limit_input: str | None = Field(
        default=None, description="Search only: the input that caps how many results return."
    )
    status_rules: list[StatusRule] = Field(default_factory=list)
    client_filters: dict[str, str] = Field(
        default_factory=dict,
        description="Search only: keep items whose field contains this input (case-insensitive).",
    )
    output: list[OutputField]
    sample: dict[str, Any]


class AuthField(Strict):
    key: str
    label: str
    help: str
    pattern: str


class Auth(Strict):
    type: Literal["bearer"] = "bearer"
    header: str = "Authorization"
    scheme: str = "Bearer"
    field: AuthField


class ConnectionTest(Strict):
    request: HttpRequest
    label_field: str = Field(description="Field of the answer that names the connection.")


class RateLimits(Strict):
    per_minute: int
    per_hour: int


class ListSource(Strict):
    key: str
    request: HttpRequest
    pagination: Pagination


class Connector(Strict):
    format_version: int = FORMAT_VERSION
    name: str
    label: str
    description: str
    version: str
    base_url: str
    auth: Auth
    connection_test: ConnectionTest
    rate_limits: RateLimits
    list_sources: list[ListSource]
    triggers: list[str]
    actions: list[str]
