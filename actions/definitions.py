"""The actions and searches: add/update/remove domain, add/remove sender rule, release message,
report spam, find domain, find quarantined message."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Literal

from pydantic import BaseModel, Field

from actions.base import ActionConflictError, ActionDefinition, ActionInput
from api_client import (
    ConflictError,
    Domain,
    MxGuardClient,
    NotFoundError,
    QuarantinedMessage,
    QuarantineStatus,
    SenderRule,
)
from api_client.contract import MAX_PAGE_SIZE
from api_client.names import DomainName, MxHost, ObjectId, SenderPattern

SEARCH_PAGES = 4
"""A search reads at most this many pages (of ``MAX_PAGE_SIZE``) before it gives up looking."""


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


# inputs --------------------------------------------------------------------------------------
class AddDomainInput(ActionInput):
    domain: DomainName
    real_mx_host: MxHost


class UpdateDomainInput(ActionInput):
    domain: DomainName
    real_mx_host: MxHost


class DomainInput(ActionInput):
    domain: DomainName


class AddSenderRuleInput(ActionInput):
    domain: DomainName
    pattern: SenderPattern
    action: Literal["allow", "block"] = Field(description="allow or block.")
    note: str | None = Field(default=None, max_length=500, description="Why, for later readers.")


class RemoveSenderRuleInput(ActionInput):
    domain: DomainName
    rule_id: ObjectId = Field(description="The rule's id (from Add Sender Rule or a listing).")


class MessageInput(ActionInput):
    message_id: ObjectId = Field(description="The quarantined message's id.")


class FindQuarantinedMessageInput(ActionInput):
    domain: DomainName | None = Field(default=None, description="Only this domain.")
    sender: str | None = Field(default=None, description="Sender address contains this text.")
    recipient: str | None = Field(default=None, description="Recipient contains this text.")
    subject: str | None = Field(default=None, description="Subject contains this text.")
    status: Literal["held", "released", "reported", "expired"] | None = Field(
        default="held", description="Only this status (default: held)."
    )
    days: int = Field(default=7, ge=1, le=30, description="Look this many days back.")
    limit: int = Field(default=10, ge=1, le=100, description="At most this many results.")


# what they do --------------------------------------------------------------------------------
def add_domain(client: MxGuardClient, data: AddDomainInput) -> DomainResult:
    try:
        created = client.domains.add(domain=data.domain, real_mx_host=data.real_mx_host)
        return DomainResult(**created.model_dump(), outcome="created")
    except ConflictError:
        existing = client.domains.get(data.domain)
    if existing.real_mx_host != data.real_mx_host:
        raise ActionConflictError(
            f"{data.domain} already exists with MX host {existing.real_mx_host}; "
            "use Update Domain (mxguard run update-domain) to change it",
            field="real_mx_host",
        )
    return DomainResult(**existing.model_dump(), outcome="existing")


def update_domain(client: MxGuardClient, data: UpdateDomainInput) -> DomainResult:
    updated = client.domains.update(data.domain, real_mx_host=data.real_mx_host)
    return DomainResult(**updated.model_dump(), outcome="updated")


def remove_domain(client: MxGuardClient, data: DomainInput) -> Removal:
    try:
        client.domains.remove(data.domain)
    except NotFoundError:
        return Removal(id=data.domain, outcome="already_absent")
    return Removal(id=data.domain, outcome="removed")


def add_sender_rule(client: MxGuardClient, data: AddSenderRuleInput) -> SenderRuleResult:
    try:
        rule = client.sender_rules.add(
            data.domain, pattern=data.pattern, action=data.action, note=data.note
        )
        return SenderRuleResult(**rule.model_dump(), outcome="created")
    except ConflictError:
        same = [
            r
            for r in client.sender_rules.list(data.domain, limit=MAX_PAGE_SIZE)
            if r.pattern == data.pattern
        ]
    if not same:
        raise ActionConflictError(f"a rule for {data.pattern} conflicts on {data.domain}")
    if same[0].action != data.action:
        raise ActionConflictError(
            f"{data.domain} already has a {same[0].action} rule for {data.pattern} "
            f"(id {same[0].id}); remove it before adding a {data.action} rule",
            field="action",
        )
    return SenderRuleResult(**same[0].model_dump(), outcome="existing")


def remove_sender_rule(client: MxGuardClient, data: RemoveSenderRuleInput) -> Removal:
    try:
        client.sender_rules.remove(data.domain, data.rule_id)
    except NotFoundError as exc:
        if exc.param == "domain":
            raise
        return Removal(id=data.rule_id, outcome="already_absent")
    return Removal(id=data.rule_id, outcome="removed")


def _move_message(
    data: MessageInput,
    move: Callable[[str], QuarantinedMessage],
    get: Callable[[str], QuarantinedMessage],
    target: QuarantineStatus,
    why_not: str,
) -> MessageResult:
    """Move a message to ``target``; one already there is returned as it is (repeats are safe)."""
    try:
        return MessageResult(**move(data.message_id).model_dump(), outcome=target.value)
    except ConflictError:
        current = get(data.message_id)
    if current.status == target:
        return MessageResult(**current.model_dump(), outcome=f"already_{target.value}")
    raise ActionConflictError(
        f"message {data.message_id} is {current.status}; {why_not}", field="message_id"
    )


def release_message(client: MxGuardClient, data: MessageInput) -> MessageResult:
    return _move_message(
        data,
        client.quarantine.release,
        client.quarantine.get,
        QuarantineStatus.released,
        "only held messages can be released",
    )


def report_spam(client: MxGuardClient, data: MessageInput) -> MessageResult:
    return _move_message(
        data,
        client.quarantine.report_spam,
        client.quarantine.get,
        QuarantineStatus.reported,
        "it cannot be reported",
    )


def find_domain(client: MxGuardClient, data: DomainInput) -> list[Domain]:
    try:
        return [client.domains.get(data.domain)]
    except NotFoundError:
        return []


def find_quarantined_message(
    client: MxGuardClient, data: FindQuarantinedMessageInput
) -> list[QuarantinedMessage]:
    since = datetime.fromtimestamp(client.clock(), UTC) - timedelta(days=data.days)
    found: list[QuarantinedMessage] = []
    pages = client.quarantine.pages(
        domain=data.domain, status=data.status, since=since, order="desc", limit=MAX_PAGE_SIZE
    )
    for number, page in enumerate(pages, start=1):
        found += [m for m in page.data if _matches(m, data)]
        if len(found) >= data.limit or number >= SEARCH_PAGES:
            break
    return found[: data.limit]


def _matches(message: QuarantinedMessage, data: FindQuarantinedMessageInput) -> bool:
    wanted = (
        (data.sender, message.sender),
        (data.recipient, message.recipient),
        (data.subject, message.subject),
    )
    return all(needle is None or needle.lower() in text.lower() for needle, text in wanted)


ACTIONS: dict[str, ActionDefinition[BaseModel]] = {
    a.key: a  # type: ignore[misc]
    for a in (
        ActionDefinition(
            key="add_domain",
            noun="Domain",
            label="Add Domain",
            description="Adds a domain to MxGuard, delivering its clean mail to your own MX host.",
            kind="create",
            input=AddDomainInput,
            output=DomainResult,
            run=add_domain,
            on_repeat="Same domain and MX host: returns it (outcome 'existing'). Another MX host: "
            "a conflict error; use Update Domain.",
        ),
        ActionDefinition(
            key="update_domain",
            noun="Domain",
            label="Update Domain",
            description="Changes the MX host MxGuard delivers a domain's clean mail to.",
            kind="update",
            input=UpdateDomainInput,
            output=DomainResult,
            run=update_domain,
            on_repeat="Setting the same MX host again changes nothing.",
        ),
        ActionDefinition(
            key="remove_domain",
            noun="Domain",
            label="Remove Domain",
            description="Removes a domain (and its sender rules) from MxGuard.",
            kind="delete",
            input=DomainInput,
            output=Removal,
            run=remove_domain,
            on_repeat="Removing a domain that is not there reports 'already_absent'.",
        ),
        ActionDefinition(
            key="add_sender_rule",
            noun="Sender Rule",
            label="Add Sender Rule",
            description="Allows or blocks a sender address, a whole sender domain, or *@domain, "
            "for one of your domains.",
            kind="create",
            input=AddSenderRuleInput,
            output=SenderRuleResult,
            run=add_sender_rule,
            on_repeat="The same pattern and action: returns the rule (outcome 'existing'). The "
            "same pattern with the other action: a conflict error.",
        ),
        ActionDefinition(
            key="remove_sender_rule",
            noun="Sender Rule",
            label="Remove Sender Rule",
            description="Removes an allow or block rule from a domain.",
            kind="delete",
            input=RemoveSenderRuleInput,
            output=Removal,
            run=remove_sender_rule,
            on_repeat="Removing a rule that is not there reports 'already_absent'.",
        ),
        ActionDefinition(
            key="release_message",
            noun="Quarantined Message",
            label="Release Message",
            description="Releases a held message from quarantine to its recipient.",
            kind="update",
            input=MessageInput,
            output=MessageResult,
            run=release_message,
            on_repeat="Releasing a message already released returns it (outcome "
            "'already_released'); a reported or expired one is a conflict error.",
        ),
        ActionDefinition(
            key="report_spam",
            noun="Quarantined Message",
            label="Report Spam",
            description="Reports a quarantined message as spam, which trains MxGuard's filter.",
            kind="update",
            input=MessageInput,
            output=MessageResult,
            run=report_spam,
            on_repeat="Reporting it again returns it (outcome 'already_reported').",
        ),
        ActionDefinition(
            key="find_domain",
            noun="Domain",
            label="Find Domain",
            description="Finds a domain of the account by name.",
            kind="search",
            input=DomainInput,
            output=Domain,
            run=find_domain,
            on_repeat="A search; it changes nothing.",
        ),
        ActionDefinition(
            key="find_quarantined_message",
            noun="Quarantined Message",
            label="Find Quarantined Message",
            description="Finds quarantined messages, newest first, by domain, sender, recipient, "
            "subject and status.",
            kind="search",
            input=FindQuarantinedMessageInput,
            output=QuarantinedMessage,
            run=find_quarantined_message,
            on_repeat="A search; it changes nothing.",
        ),
    )
}
