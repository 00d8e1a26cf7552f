"""Remove Domain: take a domain, and its sender rules, out of MxGuard."""

from __future__ import annotations

from actions.base import ActionDefinition
from actions.models import DomainInput, Removal
from actions.repeat import Absent, ActionHttp
from api_client.examples import DOMAIN
from api_client.mapping import Param, send

REMOVED = [Param(name="id", input="domain")]

ACTION = ActionDefinition(
    key="remove_domain",
    noun="Domain",
    label="Remove Domain",
    description="Removes a domain (and its sender rules) from MxGuard.",
    kind="delete",
    input=DomainInput,
    output=Removal,
    http=ActionHttp(
        request=send("DELETE", "/domains/{domain}"),
        success_outcome="removed",
        success_result=REMOVED,
        repeat=Absent(outcome="already_absent", result=REMOVED),
    ),
    on_repeat="Removing a domain that is not there reports 'already_absent'.",
    sample={"id": DOMAIN["domain"], "outcome": "removed"},
    dropdowns=frozenset({"domain"}),
)
