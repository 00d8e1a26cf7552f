"""Add Domain: a new domain, its clean mail delivered to the customer's own MX host."""

from __future__ import annotations

from actions.base import ActionDefinition
from actions.models import DomainHostInput, DomainResult
from actions.repeat import ActionHttp, Existing
from api_client.examples import DOMAIN
from api_client.mapping import from_inputs, get, send

ACTION = ActionDefinition(
    key="add_domain",
    noun="Domain",
    label="Add Domain",
    description="Adds a domain to MxGuard, delivering its clean mail to your own MX host.",
    kind="create",
    input=DomainHostInput,
    output=DomainResult,
    http=ActionHttp(
        request=send("POST", "/domains", *from_inputs("domain", "real_mx_host")),
        success_outcome="created",
        repeat=Existing(
            outcome="existing",
            lookup=get("/domains/{domain}"),
            same={"real_mx_host": "real_mx_host"},
            error="{domain} already exists with MX host {real_mx_host}; use Update Domain "
            "to change it",
        ),
    ),
    on_repeat="Same domain and MX host: returns it (outcome 'existing'). Another MX host: "
    "a conflict error; use Update Domain.",
    sample={**DOMAIN, "status": "pending", "outcome": "created"},
)
