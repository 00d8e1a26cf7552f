"""Find Verdicts: recent verdicts, newest first, by message id, sender or subject.

The API filters verdicts by domain, verdict, action and time, not by message id: the id (and
the sender and subject) are matched on the pages read, so only the newest pages of the window
are searched. Narrow the window (``hours``) and the domain for a busy account.
"""

from __future__ import annotations

from pydantic import Field

from actions.base import ActionDefinition, ActionInput
from actions.repeat import ActionHttp, PagedSearch
from api_client import Verdict
from api_client.contract import MAX_PAGE_SIZE
from api_client.examples import VERDICT
from api_client.mapping import Param, get
from api_client.names import DomainName

SEARCH_PAGES = 4
"""Pages of ``MAX_PAGE_SIZE`` read at most: the newest 2,000 verdicts of the window."""


class FindVerdictsInput(ActionInput):
    message_id: str | None = Field(
        default=None, max_length=998, description="The message's Message-ID contains this text."
    )
    sender: str | None = Field(default=None, max_length=320, description="Sender contains this.")
    subject: str | None = Field(default=None, max_length=998, description="Subject contains this.")
    domain: DomainName | None = Field(default=None, description="Only this domain.")
    days: int = Field(default=1, ge=1, le=30, description="Look this many days back.")
    limit: int = Field(default=10, ge=1, le=100, description="At most this many results.")


ACTION = ActionDefinition(
    key="find_verdicts",
    noun="Verdict",
    label="Find Verdicts",
    description="Finds recent verdicts, newest first, by message id, sender and subject (the "
    "newest 2,000 verdicts of the window are searched).",
    kind="search",
    input=FindVerdictsInput,
    output=Verdict,
    http=ActionHttp(
        request=get(
            "/verdicts",
            Param(name="domain", input="domain"),
            Param(name="since", days_ago_input="days"),
            Param(name="order", value="desc"),
            Param(name="limit", value=MAX_PAGE_SIZE),
        ),
        search=PagedSearch(
            max_pages=SEARCH_PAGES,
            result_limit_input="limit",
            client_filters={"message_id": "message_id", "sender": "sender", "subject": "subject"},
        ),
    ),
    on_repeat="A search; it changes nothing.",
    sample=VERDICT,
    dropdowns=frozenset({"domain"}),
)
