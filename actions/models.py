"""Inputs and results that several actions share; an action's own input lives in its module."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from actions.base import ActionInput
from api_client import Domain, QuarantinedMessage, SenderRule
from api_client.names import DomainName, MxHost, ObjectId


class DomainResult(Domain):
    outcome: Literal["created", "existing", "updated"] = Field(
        description="created; existing (it was there already, same MX host); updated."
    )


class SenderRuleResult(SenderRule):
    outcome: Literal["created", "existing"]


class MessageResult(QuarantinedMessage):
    outcome: Literal["released", "already_released", "reported", "already_reported"]


class Removal(BaseModel):
    id: str = Field(description="What was removed: the domain name or the rule id.")
    outcome: Literal["removed", "already_absent"]


class DomainInput(ActionInput):
    domain: DomainName


class DomainHostInput(ActionInput):
    domain: DomainName
    real_mx_host: MxHost


class MessageInput(ActionInput):
    message_id: ObjectId = Field(description="The quarantined message's id.")
