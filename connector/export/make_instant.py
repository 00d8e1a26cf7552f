"""Make's instant triggers, fed by an MxGuard bridge (``connector.bridge`` in the manifests).

Each trigger with an ``instant`` version becomes two components, as Make's model has them:

- a **dedicated webhook** (type ``web``) holding the trigger's filters as its parameters, with an
  ``attach`` procedure that subscribes Make's webhook URL at the bridge (``subscribe``) and keeps
  the subscription's id in ``response.data``, a ``detach`` procedure that unsubscribes it, and a
  communication whose output is the delivery's item (``payload.item_field``);
- an **instant trigger module** naming that webhook, with the polling trigger's output interface
  and sample: a delivered item is what a poll returns.

Make cannot check a Standard Webhooks signature (its webhooks see the parsed body, not the bytes
that were signed), so the webhook keeps no secret and checks none: ``docs/export-make.md`` says
why and what protects the webhook instead. Everything is read from the manifests; the only names
chosen here are Make's own (``webhook.url``, ``externalHookId``) and those of the data the
webhook keeps.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from connector.errors import ExportError
from connector.export.common import Bundle
from connector.export.make_iml import PATH_VAR, camel, literal, param_ref, wrap
from connector.manifest.format import Bridge, Connector, HttpRequest, Instant, Operation

WEBHOOK_TYPE = "web"
"""A dedicated webhook: its URL is the user's own (``web-shared`` is one URL for every user)."""
HOOK_ID = "externalHookId"
"""Where Make's documentation keeps the remote id of an attached webhook (``response.data``),
read back in ``detach`` as ``webhook.externalHookId``."""
TARGET = "targetUrl"
"""The webhook's URL, kept beside the id: ``detach`` finds the subscription by it (Make documents
``webhook.url`` in ``attach`` only, and the data ``attach`` keeps in ``detach``)."""
SUBSCRIPTION_IDS = "subscriptions"
"""``temp`` of ``detach``: the ids of the subscriptions to this webhook's URL."""


@dataclass(frozen=True)
class InstantTrigger:
    """One trigger's instant version: the webhook (which holds the filters and subscribes) and the
    module a user picks, named after ``instant.key`` (``new_verdict_instant`` →
    ``newVerdictInstant``, as both Make components)."""

    op: Operation
    instant: Instant

    @property
    def name(self) -> str:
        return camel(self.instant.key)


def instant_triggers(bundle: Bundle) -> list[InstantTrigger]:
    """The triggers with an instant version, when the connector describes a bridge."""
    if bundle.connector.bridge is None:
        return []
    return [InstantTrigger(op, op.instant) for op in bundle.triggers if op.instant is not None]


def bridge_url_param(bridge: Bridge) -> dict[str, Any]:
    """The connection's optional bridge URL (``{{connection.bridgeUrl}}``), checked with the
    manifest's pattern. Polling triggers and actions never read it."""
    field = bridge.url_field
    return {
        "name": camel(field.key),
        "type": "text",
        "label": field.label,
        "required": False,
        "help": field.help,
        "validate": {"pattern": field.pattern},
    }


def bridge_url(connector: Connector) -> str:
    assert connector.bridge is not None
    return wrap(f"connection.{camel(connector.bridge.url_field.key)}")


def bridge_request(
    connector: Connector, http: HttpRequest, values: dict[str, Any], what: str
) -> dict[str, Any]:
    """A bridge request of the manifest as a Make request: under the connection's bridge URL,
    with the API's token header (the bridge takes the same token), its inputs from ``values``.

    A path variable or parameter naming an input this module does not know stops the export: a
    request sent without it would not be the manifest's."""

    def value(name: str, param_input: str | None, constant: Any) -> Any:
        if param_input is None:
            return constant
        if param_input not in values:
            raise ExportError(
                f"connector.bridge.{what}: Make has no value for its input {param_input!r} "
                f"(of {name!r})"
            )
        return values[param_input]

    def path_value(match: Any) -> str:
        found = value(match.group(1), match.group(1), None)
        return str(found)

    auth = connector.auth
    spec: dict[str, Any] = {
        "url": bridge_url(connector) + PATH_VAR.sub(path_value, http.path),
        "method": http.method,
        "headers": {auth.header: f"{auth.scheme} {{{{connection.apiKey}}}}"},
    }
    if http.query:
        spec["qs"] = {p.name: value(p.name, p.input, p.value) for p in http.query}
    if http.method in ("POST", "PUT", "PATCH"):
        body = {p.name: value(p.name, p.input, p.value) for p in http.body}
        spec["body"] = {name: sent for name, sent in body.items() if sent is not None}
    spec["log"] = {"sanitize": [f"request.headers.{auth.header.lower()}"]}
    return spec


def bridge_errors(connector: Connector, error: dict[str, Any]) -> dict[str, Any]:
    """The API's error handling (the bridge answers in the same shape), and a 404 that says what
    it most likely means: no bridge at the connection's URL. Without a bridge URL the request's
    path is relative, so Make sends it to the API's base URL, which has no such path."""
    assert connector.bridge is not None
    label = connector.bridge.url_field.label
    return {
        **error,
        "404": {
            "message": f"[{{{{statusCode}}}}] No MxGuard bridge answered at "
            f"{bridge_url(connector)}: set the connection's {label} to the address of your "
            "bridge (`mxguard bridge serve`).",
            "type": "InvalidConfigurationError",
        },
    }


def attach(bundle: Bundle, trigger: InstantTrigger, error: dict[str, Any]) -> dict[str, Any]:
    """Subscribe Make's webhook URL to the trigger's event, with the webhook's parameters as the
    filters; keep the subscription's id (and the URL, for ``detach``). The secret the bridge
    answers is not kept: Make could not check a signature with it."""
    connector = bundle.connector
    assert connector.bridge is not None
    values: dict[str, Any] = {
        "event": trigger.instant.event,
        "filters": {f.key: wrap(param_ref(f)) for f in trigger.op.inputs},
        "target_url": wrap("webhook.url"),
        "secret": None,
        "description": f"Make: {trigger.instant.label}",
    }
    spec = bridge_request(connector, connector.bridge.subscribe, values, "subscribe")
    spec["response"] = {
        "data": {
            HOOK_ID: wrap(f"body.{connector.bridge.id_field}"),
            TARGET: wrap("webhook.url"),
        },
        "error": bridge_errors(connector, error),
    }
    return spec


def detach(bundle: Bundle, error: dict[str, Any]) -> list[dict[str, Any]]:
    """Unsubscribe, when the subscription still exists: Make stops at any HTTP error, so a
    subscription already gone (removed with ``mxguard bridge unsubscribe``, or disabled and
    purged) is looked for first rather than deleted into a 404, as the actions' repeats do."""
    connector = bundle.connector
    assert connector.bridge is not None
    bridge = connector.bridge
    errors = bridge_errors(connector, error)
    find = bridge_request(connector, bridge.find, {"target_url": wrap(f"webhook.{TARGET}")}, "find")
    ids = f"map(body.{bridge.items}, {literal(bridge.id_field)})"
    find["response"] = {"temp": {SUBSCRIPTION_IDS: wrap(ids)}, "error": errors}
    delete = bridge_request(
        connector, bridge.unsubscribe, {"id": wrap(f"webhook.{HOOK_ID}")}, "unsubscribe"
    )
    delete["condition"] = wrap(f"contains(temp.{SUBSCRIPTION_IDS}, webhook.{HOOK_ID})")
    delete["response"] = {"error": error}  # a 404 here is a race with another unsubscribe
    return [find, delete]


def webhook_codes(
    bundle: Bundle,
    trigger: InstantTrigger,
    params: list[dict[str, Any]],
    error: dict[str, Any],
) -> dict[str, Any]:
    """The webhook's files: what a delivery gives (its item), the filters, attach and detach."""
    assert bundle.connector.bridge is not None
    payload = bundle.connector.bridge.payload
    return {
        "communication": {"output": wrap(f"body.{payload.item_field}")},
        "params": params,
        "attach": attach(bundle, trigger, error),
        "detach": detach(bundle, error),
    }


def module_codes(trigger: InstantTrigger, interface: list[dict[str, Any]]) -> dict[str, Any]:
    """The module only names its webhook: no request of its own (Make's instant trigger
    communication is optional, ``{}`` as Make's scaffold), no parameters (the filters are the
    webhook's), the polling trigger's interface and sample."""
    return {
        "communication": {},
        "staticParams": [],
        "mappableParams": [],
        "interface": interface,
        "samples": trigger.op.sample,
    }


def webhook_meta(trigger: InstantTrigger, connection: str) -> dict[str, Any]:
    return {
        "label": trigger.instant.label,
        "connection": connection,
        "altConnection": None,
        "webhookType": WEBHOOK_TYPE,
    }


def module_meta(trigger: InstantTrigger) -> dict[str, Any]:
    """The connection is the webhook's (Make asks for it when the webhook is created)."""
    return {
        "label": trigger.instant.label,
        "description": trigger.instant.description,
        "moduleType": "instant_trigger",
        "actionCrud": None,
        "connection": None,
        "altConnection": None,
        "webhook": trigger.name,
    }
