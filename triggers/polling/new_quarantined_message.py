"""New Quarantined Message: each message put in quarantine."""

from __future__ import annotations

from pydantic import Field

from api_client import QuarantinedMessage
from api_client.examples import QUARANTINED
from api_client.mapping import from_inputs, get
from api_client.names import DomainName
from triggers.base import TriggerDefinition, TriggerFilters


class QuarantineFilters(TriggerFilters):
    domain: DomainName | None = Field(default=None, description="Only messages for this domain.")


TRIGGER = TriggerDefinition(
    key="new_quarantined_message",
    noun="Quarantined Message",
    label="New Quarantined Message",
    description="Fires when a message is put in quarantine (filter by domain).",
    filters=QuarantineFilters,
    output=QuarantinedMessage,
    time_field="quarantined_at",
    request=get("/quarantine", *from_inputs("domain")),
    sample=QUARANTINED,
    dropdowns=frozenset({"domain"}),
)
