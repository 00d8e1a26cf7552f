"""Add Sender Rule: allow or block a sender address, a sender domain or ``*@domain``."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from actions.base import ActionDefinition, ActionInput
from actions.models import SenderRuleResult
from actions.repeat import ActionHttp, Existing
from api_client.contract import MAX_PAGE_SIZE, NOTE_MAX_LENGTH
from api_client.examples import SENDER_RULE
from api_client.mapping import Param, from_inputs, get, send
from api_client.names import DomainName, SenderPattern


class AddSenderRuleInput(ActionInput):
    domain: DomainName
    pattern: SenderPattern
    action: Literal["allow", "block"] = Field(description="allow or block.")
    note: str | None = Field(
        default=None, max_length=NOTE_MAX_LENGTH, description="Why, for later readers."
    )


ACTION = ActionDefinition(
    key="add_sender_rule",
    noun="Sender Rule",
    label="Add Sender Rule",
    description="Allows or blocks a sender address, a whole sender domain, or *@domain, "
    "for one of your domains.",
    kind="create",
    input=AddSenderRuleInput,
    output=SenderRuleResult,
    http=ActionHttp(
        request=send(
            "POST", "/domains/{domain}/sender-rules", *from_inputs("pattern", "action", "note")
        ),
        success_outcome="created",
        repeat=Existing(
            outcome="existing",
            lookup=get("/domains/{domain}/sender-rules", Param(name="limit", value=MAX_PAGE_SIZE)),
            find_in="data",
            match={"pattern": "pattern"},
            same={"action": "action"},
            error="{domain} already has a {action} rule for {pattern} (id {id}); remove it "
            "before adding the other kind",
        ),
    ),
    on_repeat="The same pattern and action: returns the rule (outcome 'existing'). The "
    "same pattern with the other action: a conflict error.",
    sample={**SENDER_RULE, "outcome": "created"},
    dropdowns=frozenset({"domain"}),
)
