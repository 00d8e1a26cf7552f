"""The manifest format, as pydantic models; ``manifests/manifest.schema.json`` is generated from it.

A manifest says everything a platform integration needs without reading Python: inputs with help
text, choices and dynamic dropdowns; the HTTP request, pagination and, for triggers, the id and
timestamp fields and ordering; what a repeat does (one of the rules of ``actions/repeat.py``);
output fields; a sample.
Requests are described as in ``api_client/mapping.py``, which the Python operations use too.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from actions.repeat import RepeatRule
from api_client.mapping import HttpRequest as HttpRequest
from api_client.mapping import Pagination as Pagination
from api_client.mapping import Param as Param
from api_client.mapping import Strict

FORMAT_VERSION = 1
FieldType = Literal["string", "integer", "number", "boolean", "datetime", "object", "array"]


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


class Polling(Strict):
    id_field: str = "id"
    time_field: str
    since_param: str = "since"
    order_param: str = "order"
    lateness_bound_s: float
    look_back_every_s: float


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
    repeat: RepeatRule | None = Field(
        default=None, description="What the one error status a repeat produces answers."
    )
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
