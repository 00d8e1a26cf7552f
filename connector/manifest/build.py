"""Build the manifests from the Python definitions (``mxguard manifests build``)."""

from __future__ import annotations

import json
import types
import typing
from datetime import datetime
from pathlib import Path
from typing import Any, Literal, get_args, get_origin

from pydantic import AwareDatetime, BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from api_client import TOKEN_ENV
from api_client.auth import TOKEN_BODY_LENGTH, TOKEN_PREFIXES
from api_client.contract import (
    DEFAULT_BASE_URL,
    DEFAULT_PER_HOUR,
    DEFAULT_PER_MINUTE,
    LATENESS_BOUND_S,
    MAX_PAGE_SIZE,
)
from api_client.mapping import HttpRequest, from_inputs, get
from api_client.names import check_object_id, normalize_host, normalize_sender_pattern
from bridge import api as bridge_api
from bridge import signing
from bridge.retry import GONE
from connector import __version__, registry
from connector.manifest.format import (
    Auth,
    AuthField,
    Bridge,
    ConnectionField,
    ConnectionTest,
    Connector,
    DynamicChoices,
    FieldType,
    InputField,
    Instant,
    ListSource,
    Operation,
    OutputField,
    Pagination,
    Param,
    Polling,
    RateLimits,
    WebhookPayload,
    WebhookSignature,
)
from triggers.cursor import DEFAULT_SWEEP_INTERVAL_S

FORMATS = {
    normalize_host: "hostname",
    normalize_sender_pattern: "sender_pattern",
    check_object_id: "object_id",
}
BRIDGE_URL_REGEX = r"^https?://[^\s/?#@]+(/[^\s?#]*)?$"
"""http(s), a host, maybe a path; no user, query or fragment (the CLI's ``--bridge-url`` rule)."""
TOKEN_REGEX = f"^({'|'.join(TOKEN_PREFIXES)})[A-Za-z0-9_-]{{{TOKEN_BODY_LENGTH}}}$"
WORDS = {"mx": "MX", "id": "ID", "idn": "IDN"}


def label(key: str) -> str:
    words = [WORDS.get(w, w) for w in key.split("_")]
    return " ".join([words[0][:1].upper() + words[0][1:], *words[1:]])


def _unwrap(annotation: Any) -> tuple[Any, bool]:
    """(inner type, optional) of ``X | None``."""
    if get_origin(annotation) in (typing.Union, types.UnionType):
        args = [a for a in get_args(annotation) if a is not type(None)]
        if len(args) == 1:
            return args[0], True
    return annotation, False


def _type(annotation: Any) -> FieldType:
    base, _ = _unwrap(annotation)
    if get_origin(base) is typing.Annotated:
        return _type(get_args(base)[0])
    origin = get_origin(base)
    if origin is list:
        return "array"
    if origin is dict or (isinstance(base, type) and issubclass(base, BaseModel)):
        return "object"
    if base is bool:
        return "boolean"
    if base is int:
        return "integer"
    if base is float:
        return "number"
    if base is AwareDatetime or base is datetime:
        return "datetime"
    return "string"


def _choices(annotation: Any) -> list[str] | None:
    base, _ = _unwrap(annotation)
    if get_origin(base) is list:
        base = get_args(base)[0]
    if get_origin(base) is Literal:
        return [str(v) for v in get_args(base)]
    members = getattr(base, "__members__", None)
    return [str(m.value) for m in members.values()] if members else None


def _format(info: FieldInfo) -> Any:
    inner, _ = _unwrap(info.annotation)
    nested = get_args(inner)[1:] if get_origin(inner) is typing.Annotated else ()
    for item in [*info.metadata, *nested]:
        found = FORMATS.get(getattr(item, "func", None))  # type: ignore[arg-type]
        if found:
            return found
    return None


def _bounds(info: FieldInfo) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for item in info.metadata:
        for attribute, key in (("ge", "min"), ("le", "max"), ("max_length", "max_length")):
            if getattr(item, attribute, None) is not None:
                found[key] = getattr(item, attribute)
    return found


def input_fields(model: type[BaseModel], dynamic: frozenset[str]) -> list[InputField]:
    fields = []
    for key, info in model.model_fields.items():
        multiple = get_origin(_unwrap(info.annotation)[0]) is list
        default = None if info.default is PydanticUndefined else info.default
        default = getattr(default, "value", default)
        fields.append(
            InputField(
                key=key,
                label=label(key),
                type="string" if multiple else _type(info.annotation),
                required=info.is_required(),
                help=info.description or "",
                default=None if multiple else default,
                choices=_choices(info.annotation),
                multiple=multiple,
                format=_format(info),
                dynamic=DynamicChoices(source="domains", value="domain", label="domain")
                if key in dynamic
                else None,
                **_bounds(info),
            )
        )
    return fields


def output_fields(model: type[BaseModel]) -> list[OutputField]:
    return [
        OutputField(key=key, label=label(key), type=_type(info.annotation), primary=key == "id")
        for key, info in model.model_fields.items()
    ]


def trigger_manifest(key: str) -> Operation:
    trigger = registry.triggers()[key]
    return Operation(
        key=key,
        kind="trigger",
        noun=trigger.noun,
        label=trigger.label,
        description=trigger.description,
        inputs=input_fields(trigger.filters, trigger.dropdowns),
        request=trigger.request,
        pagination=Pagination(),
        polling=Polling(
            id_field=trigger.id_field,
            time_field=trigger.time_field,
            lateness_bound_s=LATENESS_BOUND_S,
            look_back_every_s=DEFAULT_SWEEP_INTERVAL_S,
        ),
        output=output_fields(trigger.output),
        instant=Instant(
            key=f"{key}_instant",
            label=f"{trigger.label} (Instant)",
            description=f"{trigger.description} Instant: an MxGuard bridge pushes each one as it "
            "is found, at no cost per workflow against the token's budget (needs the bridge URL "
            "in the connection).",
            event=key,
        ),
        sample=dict(trigger.sample),
    )


def action_manifest(key: str) -> Operation:
    action = registry.actions()[key]
    http, search = action.http, action.http.search
    return Operation(
        key=key,
        kind=action.kind,
        noun=action.noun,
        label=action.label,
        description=action.description,
        on_repeat=action.on_repeat,
        inputs=input_fields(action.input, action.dropdowns),
        request=http.request,
        pagination=search.pagination if search else None,
        max_pages=search.max_pages if search else None,
        result_limit_input=search.result_limit_input if search else None,
        success_outcome=http.success_outcome,
        success_result=http.success_result,
        repeat=http.repeat,
        client_filters=search.client_filters if search else {},
        output=output_fields(action.output),
        sample=dict(action.sample),
    )


def connector_manifest() -> Connector:
    return Connector(
        name="mxguard",
        label="MxGuard",
        description="Email-filtering gateway: domains, sender rules, verdicts, quarantine.",
        version=__version__,
        base_url=DEFAULT_BASE_URL,
        auth=Auth(
            field=AuthField(
                key="api_token",
                label="API token",
                help="An MxGuard API token (mxg_live_…, or mxg_test_… for a sandbox). Issue one "
                f"per integration in MxGuard; scripts read it from {TOKEN_ENV}.",
                pattern=TOKEN_REGEX,
            )
        ),
        connection_test=ConnectionTest(request=get("/me"), label_field="name"),
        rate_limits=RateLimits(per_minute=DEFAULT_PER_MINUTE, per_hour=DEFAULT_PER_HOUR),
        list_sources=[
            ListSource(
                key="domains",
                request=get(
                    "/domains",
                    Param(name="order", value="asc"),
                    Param(name="limit", value=MAX_PAGE_SIZE),
                ),
                pagination=Pagination(),
            )
        ],
        bridge=bridge_section(),
        triggers=list(registry.triggers()),
        actions=list(registry.actions()),
    )


def bridge_section() -> Bridge:
    """What a platform needs to subscribe to the bridge's webhooks and to check them, from the
    bridge's own constants (``bridge/api.py``, ``bridge/signing.py``, ``bridge/retry.py``)."""
    subscription = f"{bridge_api.SUBSCRIPTIONS}/{{id}}"
    return Bridge(
        url_field=ConnectionField(
            key="bridge_url",
            label="Bridge URL",
            help="Optional: the address of an MxGuard bridge (`mxguard bridge serve`), e.g. "
            "https://bridge.example.com. Instant triggers need it; polling triggers and actions "
            "do not use it.",
            pattern=BRIDGE_URL_REGEX,
        ),
        subscribe=HttpRequest(
            method="POST",
            path=bridge_api.SUBSCRIPTIONS,
            body=from_inputs("event", "filters", "target_url", "secret", "description"),
        ),
        find=HttpRequest(
            method="GET", path=bridge_api.SUBSCRIPTIONS, query=from_inputs("target_url")
        ),
        unsubscribe=HttpRequest(method="DELETE", path=subscription),
        samples=HttpRequest(method="GET", path=f"{bridge_api.SAMPLES}/{{event}}"),
        items="data",
        id_field="id",
        secret_field="secret",
        gone_status=GONE,
        payload=WebhookPayload(
            event_field=signing.EVENT_FIELD,
            time_field=signing.TIME_FIELD,
            item_field=signing.ITEM_FIELD,
        ),
        signature=WebhookSignature(
            id_header=signing.ID_HEADER,
            timestamp_header=signing.TIMESTAMP_HEADER,
            signature_header=signing.SIGNATURE_HEADER,
            secret_prefix=signing.SECRET_PREFIX,
            secret_min_bytes=signing.MIN_SECRET_BYTES,
            tolerance_s=signing.DEFAULT_TOLERANCE_S,
        ),
    )


def render(model: BaseModel) -> str:
    """Absent means "not set" (the schema gives defaults), which keeps the files readable."""
    document = model.model_dump(mode="json", exclude_none=True)
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def schema_document() -> dict[str, Any]:
    """One JSON Schema with both documents' definitions: ``connector`` and ``operation``."""
    connector = Connector.model_json_schema(ref_template="#/$defs/{model}")
    operation = Operation.model_json_schema(ref_template="#/$defs/{model}")
    definitions = {**connector.pop("$defs", {}), **operation.pop("$defs", {})}
    definitions["Connector"] = connector
    definitions["Operation"] = operation
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://app.mxguard.uk/schemas/connector-manifest.json",
        "title": "MxGuard connector manifest",
        "oneOf": [{"$ref": "#/$defs/Connector"}, {"$ref": "#/$defs/Operation"}],
        "$defs": definitions,
    }


def generated_files() -> dict[Path, str]:
    """Every file under ``manifests/`` that the code generates (the contract aside)."""
    files = {
        Path("manifest.schema.json"): json.dumps(schema_document(), indent=2) + "\n",
        Path("connector.json"): render(connector_manifest()),
    }
    for key in registry.triggers():
        files[Path("triggers") / f"{key}.json"] = render(trigger_manifest(key))
    for key in registry.actions():
        files[Path("actions") / f"{key}.json"] = render(action_manifest(key))
    return files
