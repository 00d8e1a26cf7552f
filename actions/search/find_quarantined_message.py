"""Find Quarantined Message: messages in quarantine, newest first, by what they say."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from actions.base import ActionDefinition, ActionInput
from actions.repeat import ActionHttp, PagedSearch
from api_client import QuarantinedMessage
from api_client.contract import MAX_PAGE_SIZE
from api_client.examples import QUARANTINED
from api_client.mapping import Param, get
from api_client.names import DomainName

SEARCH_PAGES = 4
"""A search reads at most this many pages (of ``MAX_PAGE_SIZE``) before it gives up looking."""


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


ACTION = ActionDefinition(
    key="find_quarantined_message",
    noun="Quarantined Message",
    label="Find Quarantined Message",
    description="Finds quarantined messages, newest first, by domain, sender, recipient, "
    "subject and status.",
    kind="search",
    input=FindQuarantinedMessageInput,
    output=QuarantinedMessage,
    http=ActionHttp(
        request=get(
            "/quarantine",
            Param(name="domain", input="domain"),
            Param(name="status", input="status"),
            Param(name="since", days_ago_input="days"),
            Param(name="order", value="desc"),
            Param(name="limit", value=MAX_PAGE_SIZE),
        ),
        search=PagedSearch(
            max_pages=SEARCH_PAGES,
            result_limit_input="limit",
            client_filters={"sender": "sender", "recipient": "recipient", "subject": "subject"},
        ),
    ),
    on_repeat="A search; it changes nothing.",
    sample=QUARANTINED,
    dropdowns=frozenset({"domain"}),
)
