"""New Verdict: each message MxGuard scans, with what it decided."""

from __future__ import annotations

from pydantic import Field

from api_client import Verdict, VerdictAction, VerdictType
from api_client.examples import VERDICT
from api_client.mapping import from_inputs, get
from api_client.names import DomainName
from triggers.base import TriggerDefinition, TriggerFilters


class VerdictFilters(TriggerFilters):
    domain: DomainName | None = Field(default=None, description="Only verdicts for this domain.")
    verdict: list[VerdictType] = Field(
        default_factory=list,
        description="Only these verdicts (clean, spam, phishing, malware, blocked); all if empty.",
    )
    action: list[VerdictAction] = Field(
        default_factory=list,
        description="Only these actions (delivered, quarantined, rejected); all if empty.",
    )


TRIGGER = TriggerDefinition(
    key="new_verdict",
    noun="Verdict",
    label="New Verdict",
    description="Fires when MxGuard scans a message, with what it decided (filter by domain, "
    "verdict and action).",
    filters=VerdictFilters,
    output=Verdict,
    time_field="scanned_at",
    request=get("/verdicts", *from_inputs("domain", "verdict", "action")),
    sample=VERDICT,
    dropdowns=frozenset({"domain"}),
)
