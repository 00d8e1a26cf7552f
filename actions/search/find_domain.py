"""Find Domain: a domain of the account, by name."""

from __future__ import annotations

from actions.base import ActionDefinition
from actions.models import DomainInput
from actions.repeat import ActionHttp, Empty
from api_client import Domain
from api_client.examples import DOMAIN
from api_client.mapping import get

ACTION = ActionDefinition(
    key="find_domain",
    noun="Domain",
    label="Find Domain",
    description="Finds a domain of the account by name.",
    kind="search",
    input=DomainInput,
    output=Domain,
    http=ActionHttp(request=get("/domains/{domain}"), repeat=Empty()),
    on_repeat="A search; it changes nothing.",
    sample=DOMAIN,
    dropdowns=frozenset({"domain"}),
)
