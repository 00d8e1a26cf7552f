"""What the generated n8n nodes run on: the manifests' operations as TypeScript data.

The engine in the template (``nodes/shared``) is the same for every API; it reads these specs,
so an operation added to the manifests needs no TypeScript written by hand.
"""

from __future__ import annotations

from typing import Any, assert_never

from actions.repeat import Absent, Current, Empty, Existing, RepeatRule
from api_client.contract import DEFAULT_PER_HOUR
from connector.errors import ExportError
from connector.manifest.format import (
    Bridge,
    Connector,
    DynamicChoices,
    HttpRequest,
    InputField,
    Instant,
    Operation,
    Pagination,
    Param,
    Polling,
)
from triggers.cursor import (
    BURST_FACTOR,
    DEFAULT_POLL_INTERVAL_S,
    FRESH_OVERLAP_S,
    MIN_POLL_INTERVAL_S,
    PAGE_FILL,
    RATE_STEP,
    RATE_WEIGHT,
    SKEW_MARGIN_S,
)
from triggers.poller import ACTION_RESERVE, default_budget

RESERVED = {"resource", "operation", "event", "options", "action", "limit", "returnAll"}
"""Parameter names n8n's linter gives a fixed meaning (an operation list, a page size...)."""


def camel(key: str) -> str:
    """``real_mx_host`` -> ``realMxHost``: n8n's parameter naming."""
    first, *rest = key.split("_")
    return first + "".join(part[:1].upper() + part[1:] for part in rest)


def param_name(noun: str, key: str) -> str:
    """The n8n parameter of an input; a reserved name gets the noun in front (``verdictAction``)."""
    name = camel(key)
    if name not in RESERVED:
        return name
    prefix = camel("_".join(noun.lower().split()))
    return prefix + name[:1].upper() + name[1:]


def _present(values: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in values.items() if value is not None}


def param(p: Param) -> dict[str, Any]:
    # "constant", not "value": n8n's linter reads {name, value} objects as dropdown options.
    return _present(
        {"name": p.name, "input": p.input, "constant": p.value, "daysAgoInput": p.days_ago_input}
    )


def request(r: HttpRequest) -> dict[str, Any]:
    return {
        "method": r.method,
        "path": r.path,
        "query": [param(p) for p in r.query],
        "body": [param(p) for p in r.body],
    }


def pagination(p: Pagination) -> dict[str, Any]:
    return {
        "items": p.items,
        "hasMore": p.has_more,
        "nextCursor": p.next_cursor,
        "cursorParam": p.cursor_param,
        "limitParam": p.limit_param,
        "maxLimit": p.max_limit,
    }


UNTIL_PARAM = "until"
"""The listing's exclusive upper bound: the manifests' polling has no field for it, and the Python
triggers send this name (``TriggerDefinition.fetch``)."""

CURSOR_TUNING: dict[str, float] = {
    "skewMarginS": SKEW_MARGIN_S,
    "freshOverlapS": FRESH_OVERLAP_S,
    "pageFill": PAGE_FILL,
    "rateWeight": RATE_WEIGHT,
    "rateStep": RATE_STEP,
    "burstFactor": BURST_FACTOR,
    "defaultPollIntervalS": DEFAULT_POLL_INTERVAL_S,
    "minPollIntervalS": MIN_POLL_INTERVAL_S,
    "actionReserve": ACTION_RESERVE,
    "tokenPerHour": DEFAULT_PER_HOUR,
}
"""The constants of the Python cursor (``triggers/cursor.py``, ``triggers/poller.py``) that the
TypeScript port plans with: one source of truth, exported into every event's ``polling`` spec."""


def default_trigger_budget() -> float:
    """The trigger's budget when "Requests per Hour" is empty: the token's hourly limit less the
    share left for actions, as ``triggers.poller.default_budget`` (500 of 600)."""
    return default_budget(DEFAULT_PER_HOUR)


def polling(p: Polling) -> dict[str, Any]:
    return {
        "idField": p.id_field,
        "timeField": p.time_field,
        "sinceParam": p.since_param,
        "untilParam": UNTIL_PARAM,
        "orderParam": p.order_param,
        "latenessBoundS": p.lateness_bound_s,
        "lookBackEveryS": p.look_back_every_s,
        **CURSOR_TUNING,
    }


def repeat(rule: RepeatRule) -> dict[str, Any]:
    """The repeat rule, tagged by ``shape`` as ``RepeatSpec`` in ``nodes/shared/types.ts``."""
    match rule:
        case Absent():
            return _present(
                {
                    "shape": rule.shape,
                    "status": rule.status,
                    "outcome": rule.outcome,
                    "result": [param(p) for p in rule.result],
                    "check": request(rule.check) if rule.check else None,
                }
            )
        case Existing():
            return _present(
                {
                    "shape": rule.shape,
                    "status": rule.status,
                    "outcome": rule.outcome,
                    "lookup": request(rule.lookup),
                    "findIn": rule.find_in,
                    "match": dict(rule.match),
                    "same": dict(rule.same),
                    "error": rule.error,
                }
            )
        case Current():
            # ``value`` stays even when None: the node compares with it (null and undefined alike).
            return {
                "shape": rule.shape,
                "status": rule.status,
                "outcome": rule.outcome,
                "lookup": request(rule.lookup),
                "field": rule.field,
                "value": rule.value,
                "error": rule.error,
            }
        case Empty():
            return {"shape": rule.shape, "status": rule.status}
        case _:
            assert_never(rule)


def input_field(noun: str, f: InputField) -> dict[str, Any]:
    return _present(
        {
            "key": f.key,
            "param": param_name(noun, f.key),
            "type": f.type,
            "required": f.required,
            "default": f.default,
            "choices": f.choices,
            "multiple": f.multiple,
            "format": f.format,
        }
    )


def operation(op: Operation) -> dict[str, Any]:
    return _present(
        {
            "key": op.key,
            "kind": op.kind,
            "noun": op.noun,
            "inputs": [input_field(op.noun, f) for f in op.inputs],
            "request": request(op.request),
            "pagination": pagination(op.pagination) if op.pagination else None,
            "polling": polling(op.polling) if op.polling else None,
            "successOutcome": op.success_outcome,
            "successResult": [param(p) for p in op.success_result],
            "maxPages": op.max_pages,
            "resultLimitInput": op.result_limit_input,
            "repeat": repeat(op.repeat) if op.repeat else None,
            "clientFilters": dict(op.client_filters),
        }
    )


def dynamic_sources(operations: list[Operation]) -> dict[str, DynamicChoices]:
    """Each list source the inputs use, with the item fields they show (one way per source)."""
    found: dict[str, DynamicChoices] = {}
    for op in operations:
        for field in op.inputs:
            if field.dynamic is None:
                continue
            known = found.setdefault(field.dynamic.source, field.dynamic)
            if known != field.dynamic:
                raise ExportError(f"{op.key}.{field.key}: list source {known.source} used two ways")
    return found


def list_sources(connector: Connector, operations: list[Operation]) -> dict[str, Any]:
    sources = {s.key: s for s in connector.list_sources}
    specs: dict[str, Any] = {}
    for key, dynamic in dynamic_sources(operations).items():
        if key not in sources:
            raise ExportError(f"inputs use the list source {key!r}, which connector.json lacks")
        source = sources[key]
        specs[key] = {
            "request": request(source.request),
            "pagination": pagination(source.pagination),
            "value": dynamic.value,
            "label": dynamic.label,
        }
    return specs


def instant_of(op: Operation) -> Instant:
    """The trigger's instant version; an error for a trigger without one."""
    if op.instant is None:
        raise ExportError(f"{op.key} has no instant version")
    return op.instant


def instant_event(op: Operation) -> dict[str, Any]:
    """An instant trigger as the webhook node runs it: the bridge's event and the filters, which
    are the polling trigger's own inputs (``InstantSpec`` in ``nodes/shared/types.ts``)."""
    instant = instant_of(op)
    return {
        "key": instant.key,
        "event": instant.event,
        "inputs": [input_field(op.noun, f) for f in op.inputs],
    }


def bridge(b: Bridge) -> dict[str, Any]:
    """How the instant node talks to the bridge and checks what it receives (``BridgeSpec``):
    the manifests' requests, field names, headers, secret form and timestamp tolerance."""
    sig = b.signature
    return {
        "urlField": {
            "credential": camel(b.url_field.key),
            "label": b.url_field.label,
            "pattern": b.url_field.pattern,
        },
        "subscribe": request(b.subscribe),
        "find": request(b.find),
        "unsubscribe": request(b.unsubscribe),
        "items": b.items,
        "idField": b.id_field,
        "secretField": b.secret_field,
        "payload": {
            "eventField": b.payload.event_field,
            "itemField": b.payload.item_field,
        },
        "signature": {
            "idHeader": sig.id_header,
            "timestampHeader": sig.timestamp_header,
            "signatureHeader": sig.signature_header,
            "secretPrefix": sig.secret_prefix,
            "secretMinBytes": sig.secret_min_bytes,
            "toleranceS": sig.tolerance_s,
        },
    }
