"""How each trigger and action maps onto the HTTP contract, beside its Python definition.

The Python definitions own names, descriptions, inputs and outputs; this table adds the request,
the pagination and the status rules in the manifest's terms. ``tests/test_manifests.py`` runs
every operation both ways against the sandbox (Python, and the manifest through a generic
runner), so the two cannot drift apart.
"""

from __future__ import annotations

from typing import Any

from api_client.contract import MAX_PAGE_SIZE
from connector.manifest.format import HttpRequest, Param, StatusRule
from connector.manifest.samples import SAMPLES
from connector.registry import collect

API = "/api/v1"
LIST_LIMIT = MAX_PAGE_SIZE


def _get(path: str, *query: Param) -> HttpRequest:
    return HttpRequest(method="GET", path=API + path, query=list(query))


def _inputs(*names: str) -> list[Param]:
    return [Param(name=name, input=name) for name in names]


TRIGGER_REQUESTS: dict[str, HttpRequest] = {
    "new_verdict": _get("/verdicts", *_inputs("domain", "verdict", "action")),
    "new_quarantined_message": _get("/quarantine", *_inputs("domain")),
    "new_domain": _get("/domains"),
}

ACTIONS: dict[str, dict[str, Any]] = {
    "add_domain": {
        "request": HttpRequest(
            method="POST", path=API + "/domains", body=_inputs("domain", "real_mx_host")
        ),
        "success_outcome": "created",
        "status_rules": [
            StatusRule(
                status=409,
                outcome="existing",
                lookup=_get("/domains/{domain}"),
                accept_if={"real_mx_host": Param(name="real_mx_host", input="real_mx_host")},
                error="{domain} already exists with MX host {real_mx_host}; use Update Domain "
                "to change it",
            )
        ],
    },
    "update_domain": {
        "request": HttpRequest(
            method="PATCH", path=API + "/domains/{domain}", body=_inputs("real_mx_host")
        ),
        "success_outcome": "updated",
    },
    "remove_domain": {
        "request": HttpRequest(method="DELETE", path=API + "/domains/{domain}"),
        "success_outcome": "removed",
        "success_result": [Param(name="id", input="domain")],
        "status_rules": [
            StatusRule(
                status=404, outcome="already_absent", result=[Param(name="id", input="domain")]
            )
        ],
    },
    "add_sender_rule": {
        "request": HttpRequest(
            method="POST",
            path=API + "/domains/{domain}/sender-rules",
            body=_inputs("pattern", "action", "note"),
        ),
        "success_outcome": "created",
        "status_rules": [
            StatusRule(
                status=409,
                outcome="existing",
                lookup=_get(
                    "/domains/{domain}/sender-rules", Param(name="limit", value=LIST_LIMIT)
                ),
                find_in="data",
                match={"pattern": "pattern"},
                accept_if={"action": Param(name="action", input="action")},
                error="{domain} already has a {action} rule for {pattern} (id {id}); remove it "
                "before adding the other kind",
            )
        ],
    },
    "remove_sender_rule": {
        "request": HttpRequest(
            method="DELETE", path=API + "/domains/{domain}/sender-rules/{rule_id}"
        ),
        "success_outcome": "removed",
        "success_result": [Param(name="id", input="rule_id")],
        "status_rules": [
            StatusRule(
                status=404,
                outcome="already_absent",
                lookup=_get("/domains/{domain}"),
                result=[Param(name="id", input="rule_id")],
            )
        ],
    },
    "release_message": {
        "request": HttpRequest(method="POST", path=API + "/quarantine/{message_id}/release"),
        "success_outcome": "released",
        "status_rules": [
            StatusRule(
                status=409,
                outcome="already_released",
                lookup=_get("/quarantine/{message_id}"),
                accept_if={"status": Param(name="status", value="released")},
                error="message {id} is {status}; only held messages can be released",
            )
        ],
    },
    "report_spam": {
        "request": HttpRequest(method="POST", path=API + "/quarantine/{message_id}/report-spam"),
        "success_outcome": "reported",
        "status_rules": [
            StatusRule(
                status=409,
                outcome="already_reported",
                lookup=_get("/quarantine/{message_id}"),
                accept_if={"status": Param(name="status", value="reported")},
                error="message {id} is {status}; it cannot be reported",
            )
        ],
    },
    "find_domain": {
        "request": _get("/domains/{domain}"),
        "status_rules": [StatusRule(status=404, empty=True)],
    },
    "find_quarantined_message": {
        "request": _get(
            "/quarantine",
            Param(name="domain", input="domain"),
            Param(name="status", input="status"),
            Param(name="since", days_ago_input="days"),
            Param(name="order", value="desc"),
            Param(name="limit", value=LIST_LIMIT),
        ),
        "paginate": True,
        "client_filters": {"sender": "sender", "recipient": "recipient", "subject": "subject"},
    },
}


def trigger_requests() -> dict[str, HttpRequest]:
    """Built-in and scaffolded triggers' requests."""
    return {**TRIGGER_REQUESTS, **dict(collect("connector.manifest.scaffolded", "TRIGGER_REQUEST"))}


def action_http() -> dict[str, dict[str, Any]]:
    """Built-in and scaffolded actions' HTTP mappings."""
    return {**ACTIONS, **dict(collect("connector.manifest.scaffolded", "ACTION_HTTP"))}


def samples() -> dict[str, dict[str, Any]]:
    """Built-in and scaffolded operations' samples."""
    return {**SAMPLES, **dict(collect("connector.manifest.scaffolded", "SAMPLE"))}


DYNAMIC_DOMAIN_INPUTS: dict[str, set[str]] = {
    "new_verdict": {"domain"},
    "new_quarantined_message": {"domain"},
    "update_domain": {"domain"},
    "remove_domain": {"domain"},
    "add_sender_rule": {"domain"},
    "remove_sender_rule": {"domain"},
    "find_domain": {"domain"},
    "find_quarantined_message": {"domain"},
}
