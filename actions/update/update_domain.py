"""Update Domain: change the MX host a domain's clean mail is delivered to."""

from __future__ import annotations

from actions.base import ActionDefinition
from actions.models import DomainHostInput, DomainResult
from actions.repeat import ActionHttp
from api_client.examples import DOMAIN
from api_client.mapping import from_inputs, send

ACTION = ActionDefinition(
    key="update_domain",
    noun="Domain",
    label="Update Domain",
    description="Changes the MX host MxGuard delivers a domain's clean mail to.",
    kind="update",
    input=DomainHostInput,
    output=DomainResult,
    http=ActionHttp(
        request=send("PATCH", "/domains/{domain}", *from_inputs("real_mx_host")),
        success_outcome="updated",
    ),
    on_repeat="Setting the same MX host again changes nothing.",
    sample={**DOMAIN, "outcome": "updated"},
    dropdowns=frozenset({"domain"}),
)
