"""Get Account Stats: what MxGuard counted in a window (by default the last 24 hours)."""

from __future__ import annotations

from pydantic import AwareDatetime, Field

from actions.base import ActionDefinition, ActionInput
from actions.repeat import ActionHttp
from api_client import Stats
from api_client.examples import STATS
from api_client.mapping import from_inputs, get
from api_client.names import DomainName


class GetAccountStatsInput(ActionInput):
    # RFC 3339 text, as the platforms and the command line pass times, is read as a time here
    since: AwareDatetime | None = Field(
        default=None,
        strict=False,
        description="Start of the window, inclusive (RFC 3339, with its zone); default: 24 "
        "hours before the end.",
    )
    until: AwareDatetime | None = Field(
        default=None,
        strict=False,
        description="End of the window, exclusive (RFC 3339, with its zone); default: now.",
    )
    domain: DomainName | None = Field(default=None, description="Only this domain.")


ACTION = ActionDefinition(
    key="get_account_stats",
    noun="Account",
    label="Get Account Stats",
    description="Gets what MxGuard counted in a window (by default the last 24 hours): messages "
    "scanned, by verdict and by action, quarantined and the quarantine rate, held now.",
    kind="search",
    input=GetAccountStatsInput,
    output=Stats,
    http=ActionHttp(request=get("/stats", *from_inputs("since", "until", "domain"))),
    on_repeat="A read; it changes nothing.",
    sample=STATS,
    dropdowns=frozenset({"domain"}),
)
