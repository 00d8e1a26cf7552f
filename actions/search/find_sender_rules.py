"""Find Sender Rules: a domain's allow and block rules, by pattern and action."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from actions.base import ActionDefinition, ActionInput
from actions.repeat import ActionHttp, PagedSearch
from api_client import SenderRule
from api_client.contract import MAX_PAGE_SIZE
from api_client.examples import SENDER_RULE
from api_client.mapping import Param, get
from api_client.names import DomainName

SEARCH_PAGES = 4
"""Pages of ``MAX_PAGE_SIZE`` read at most: 2,000 rules, more than a domain keeps in practice."""


class FindSenderRulesInput(ActionInput):
    domain: DomainName
    pattern: str | None = Field(
        default=None, max_length=320, description="The rule's pattern contains this text."
    )
    action: Literal["allow", "block"] | None = Field(
        default=None, description="Only allow, or only block."
    )
    limit: int = Field(default=10, ge=1, le=100, description="At most this many results.")


ACTION = ActionDefinition(
    key="find_sender_rules",
    noun="Sender Rule",
    label="Find Sender Rules",
    description="Finds a domain's sender rules, newest first, by pattern and action.",
    kind="search",
    input=FindSenderRulesInput,
    output=SenderRule,
    http=ActionHttp(
        request=get(
            "/domains/{domain}/sender-rules",
            Param(name="order", value="desc"),
            Param(name="limit", value=MAX_PAGE_SIZE),
        ),
        search=PagedSearch(
            max_pages=SEARCH_PAGES,
            result_limit_input="limit",
            client_filters={"pattern": "pattern", "action": "action"},
        ),
    ),
    on_repeat="A search; it changes nothing. An unknown domain is an error (not found).",
    sample=SENDER_RULE,
    dropdowns=frozenset({"domain"}),
)
