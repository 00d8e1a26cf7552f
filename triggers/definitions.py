"""The polling triggers: new verdict, new quarantined message, new domain.

Each is a ``TriggerDefinition``: filters (a pydantic model, validated before any request), the
item type, the timestamp its cursor is kept on, and how to fetch one page in either order.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from api_client import (
    Domain,
    MxGuardClient,
    QuarantinedMessage,
    Verdict,
    VerdictAction,
    VerdictType,
)
from api_client.names import DomainName
from triggers.base import FetchedPage, Order, TriggerDefinition


class TriggerFilters(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


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


class QuarantineFilters(TriggerFilters):
    domain: DomainName | None = Field(default=None, description="Only messages for this domain.")


class NoFilters(TriggerFilters):
    pass


def _verdicts(
    client: MxGuardClient,
    *,
    filters: VerdictFilters,
    since: datetime | None,
    cursor: str | None,
    limit: int,
    order: Order,
) -> FetchedPage:
    page = client.verdicts.page(
        domain=filters.domain,
        verdict=[v.value for v in filters.verdict] or None,
        action=[a.value for a in filters.action] or None,
        since=since,
        order=order,
        limit=limit,
        cursor=cursor,
    )
    return FetchedPage.of(page)


def _quarantine(
    client: MxGuardClient,
    *,
    filters: QuarantineFilters,
    since: datetime | None,
    cursor: str | None,
    limit: int,
    order: Order,
) -> FetchedPage:
    page = client.quarantine.page(
        domain=filters.domain, since=since, order=order, limit=limit, cursor=cursor
    )
    return FetchedPage.of(page)


def _domains(
    client: MxGuardClient,
    *,
    filters: NoFilters,
    since: datetime | None,
    cursor: str | None,
    limit: int,
    order: Order,
) -> FetchedPage:
    page = client.domains.page(since=since, order=order, limit=limit, cursor=cursor)
    return FetchedPage.of(page)


NEW_VERDICT = TriggerDefinition(
    key="new_verdict",
    noun="Verdict",
    label="New Verdict",
    description="Fires when MxGuard scans a message, with what it decided (filter by domain, "
    "verdict and action).",
    filters=VerdictFilters,
    output=Verdict,
    time_field="scanned_at",
    fetch=_verdicts,
)
NEW_QUARANTINED_MESSAGE = TriggerDefinition(
    key="new_quarantined_message",
    noun="Quarantined Message",
    label="New Quarantined Message",
    description="Fires when a message is put in quarantine (filter by domain).",
    filters=QuarantineFilters,
    output=QuarantinedMessage,
    time_field="quarantined_at",
    fetch=_quarantine,
)
NEW_DOMAIN = TriggerDefinition(
    key="new_domain",
    noun="Domain",
    label="New Domain",
    description="Fires when a domain is added to the MxGuard account.",
    filters=NoFilters,
    output=Domain,
    time_field="created_at",
    fetch=_domains,
)

TRIGGERS: dict[str, TriggerDefinition[BaseModel]] = {
    t.key: t  # type: ignore[misc]
    for t in (NEW_VERDICT, NEW_QUARANTINED_MESSAGE, NEW_DOMAIN)
}
