"""The contract's bodies as pydantic models (``manifests/openapi.json`` is the source).

Responses keep fields they do not know (``extra="allow"``) and accept enum values they do not
know (an ``OpenEnum`` makes a new member on the fly), so a newer server does not break an older
client. Requests forbid unknown fields, so a typo fails here and not on the server. Field
patterns (host names, sender patterns) are left to the server: one source of truth, and its
answer is an ``InvalidRequestError`` naming the field.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Generic, TypeVar

from pydantic import AwareDatetime, BaseModel, ConfigDict


class OpenEnum(StrEnum):
    """A string enum that accepts values added to the API after this client was written."""

    @classmethod
    def _missing_(cls, value: object) -> OpenEnum | None:
        if not isinstance(value, str):
            return None
        member = str.__new__(cls, value)
        member._name_ = value
        member._value_ = value
        return member


class VerdictType(OpenEnum):
    clean = "clean"
    spam = "spam"
    phishing = "phishing"
    malware = "malware"
    blocked = "blocked"


class VerdictAction(OpenEnum):
    delivered = "delivered"
    quarantined = "quarantined"
    rejected = "rejected"


class QuarantineStatus(OpenEnum):
    held = "held"
    released = "released"
    reported = "reported"
    expired = "expired"


class DomainStatus(OpenEnum):
    pending = "pending"
    active = "active"
    suspended = "suspended"


class RuleAction(OpenEnum):
    allow = "allow"
    block = "block"


class SortOrder(OpenEnum):
    asc = "asc"
    desc = "desc"


class Response(BaseModel):
    """Base of every response body: unknown fields are kept (``model_extra``)."""

    model_config = ConfigDict(extra="allow")


class Request(BaseModel):
    """Base of every request body: unknown fields are an error."""

    model_config = ConfigDict(extra="forbid")


class TokenInfo(Response):
    id: str
    prefix: str
    created_at: AwareDatetime


class RateLimits(Response):
    per_minute: int
    per_hour: int


class Account(Response):
    id: str
    name: str
    plan: str
    created_at: AwareDatetime
    token: TokenInfo
    rate_limits: RateLimits


class MxRecord(Response):
    priority: int
    host: str


class Domain(Response):
    id: str
    domain: str
    real_mx_host: str
    status: DomainStatus
    mx_records: list[MxRecord]
    created_at: AwareDatetime
    updated_at: AwareDatetime


class DomainCreate(Request):
    domain: str
    """ASCII; IDNs as punycode (``xn--…``)."""
    real_mx_host: str


class DomainUpdate(Request):
    real_mx_host: str


class SenderRule(Response):
    id: str
    domain: str
    pattern: str
    action: RuleAction
    note: str | None = None
    created_at: AwareDatetime


class SenderRuleCreate(Request):
    pattern: str
    """An address ``a@b.com``, a whole domain ``b.com``, or ``*@b.com``."""
    action: RuleAction
    note: str | None = None


class Verdict(Response):
    id: str
    message_id: str
    domain: str
    sender: str
    recipient: str
    subject: str
    verdict: VerdictType
    score: float
    action: VerdictAction
    scanned_at: AwareDatetime


class QuarantinedMessage(Response):
    id: str
    verdict_id: str
    domain: str
    sender: str
    recipient: str
    subject: str
    reason: VerdictType
    status: QuarantineStatus
    quarantined_at: AwareDatetime
    expires_at: AwareDatetime
    released_at: AwareDatetime | None = None
    reported_at: AwareDatetime | None = None


class Stats(Response):
    since: AwareDatetime
    until: AwareDatetime
    domain: str | None = None
    messages_scanned: int
    by_verdict: dict[str, int]
    by_action: dict[str, int]
    quarantined: int
    quarantine_rate: float
    quarantine_held: int
    domains: int


ItemT = TypeVar("ItemT", bound=BaseModel)


class Page(Response, Generic[ItemT]):
    """One page of a collection; pass ``next_cursor`` back (with the same filters) for the next."""

    data: list[ItemT]
    has_more: bool
    next_cursor: str | None = None
