"""New Domain: each domain added to the account."""

from __future__ import annotations

from api_client import Domain
from api_client.examples import DOMAIN
from api_client.mapping import get
from triggers.base import NoFilters, TriggerDefinition

TRIGGER = TriggerDefinition(
    key="new_domain",
    noun="Domain",
    label="New Domain",
    description="Fires when a domain is added to the MxGuard account.",
    filters=NoFilters,
    output=Domain,
    time_field="created_at",
    request=get("/domains"),
    sample=DOMAIN,
)
