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


class Instant(Strict):
    """The trigger's instant version: the bridge pushes its items instead of the platform polling.

    Its inputs, output and sample are the trigger's own: a delivered item is what a poll returns.
    """

    key: str = Field(description="The instant trigger's key on the platforms.")
    label: str
    description: str
    event: str = Field(description="The bridge's event: what a subscription names.")


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
    instant: Instant | None = Field(
        default=None, description="Triggers only: how the bridge delivers it (connector.bridge)."
    )
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


class ConnectionField(Strict):
    """An optional field of the connection, beside the token."""

    key: str
    label: str
    help: str
    pattern: str


class WebhookPayload(Strict):
    """Where a delivery's body puts the event, the item's time and the item."""

    event_field: str
    time_field: str
    item_field: str


class WebhookSignature(Strict):
    """How a delivery is signed: Standard Webhooks (``v1,`` + base64 HMAC-SHA256 of
    ``{id}.{timestamp}.{body}`` keyed by the base64-decoded secret after its prefix)."""

    scheme: Literal["standard-webhooks"] = "standard-webhooks"
    id_header: str = Field(description="The same on every retry: receivers dedupe on it.")
    timestamp_header: str
    signature_header: str
    secret_prefix: str
    secret_min_bytes: int = Field(description="Bytes a caller's secret holds at least.")
    tolerance_s: int = Field(description="How far a timestamp may be from the receiver's clock.")


class Bridge(Strict):
    """Instant triggers: an MxGuard bridge (``mxguard bridge serve``) polls the token once and
    POSTs each new item to every subscribed webhook URL. The bridge takes the connection's
    MxGuard token (the same header as the API) at the URL of ``url_field``.

    Requests are under the bridge's URL; their inputs are ``event`` (an ``instant.event``),
    ``filters`` (the trigger's inputs, as an object), ``target_url`` (the platform's webhook URL),
    ``secret`` (optional: the platform's own) and ``description``, or ``id`` (a subscription's).
    """

    url_field: ConnectionField
    subscribe: HttpRequest
    find: HttpRequest = Field(description="Subscriptions to one target_url: {items: [...]}")
    unsubscribe: HttpRequest
    samples: HttpRequest = Field(description="Recent deliveries' bodies: {items: [...]}")
    items: str = Field(description="Where a listing puts its items.")
    id_field: str = Field(description="A subscription's id, in the subscribe answer.")
    secret_field: str = Field(description="The signing secret, in the subscribe answer only.")
    gone_status: int = Field(
        description="A receiver answering this status to a delivery ends its subscription."
    )
    payload: WebhookPayload
    signature: WebhookSignature


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
    bridge: Bridge | None = None
    triggers: list[str]
    actions: list[str]
