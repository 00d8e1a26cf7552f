"""Remove Sender Rule: take an allow or block rule off a domain."""

from __future__ import annotations

from pydantic import Field

from actions.base import ActionDefinition, ActionInput
from actions.models import Removal
from actions.repeat import Absent, ActionHttp
from api_client.examples import SENDER_RULE
from api_client.mapping import Param, get, send
from api_client.names import DomainName, ObjectId


class RemoveSenderRuleInput(ActionInput):
    domain: DomainName
    rule_id: ObjectId = Field(description="The rule's id (from Add Sender Rule or a listing).")


REMOVED = [Param(name="id", input="rule_id")]

ACTION = ActionDefinition(
    key="remove_sender_rule",
    noun="Sender Rule",
    label="Remove Sender Rule",
    description="Removes an allow or block rule from a domain.",
    kind="delete",
    input=RemoveSenderRuleInput,
    output=Removal,
    http=ActionHttp(
        request=send("DELETE", "/domains/{domain}/sender-rules/{rule_id}"),
        success_outcome="removed",
        success_result=REMOVED,
        repeat=Absent(outcome="already_absent", result=REMOVED, check=get("/domains/{domain}")),
    ),
    on_repeat="Removing a rule that is not there reports 'already_absent'.",
    sample={"id": SENDER_RULE["id"], "outcome": "removed"},
    dropdowns=frozenset({"domain"}),
)
