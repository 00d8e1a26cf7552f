"""The v1 contract's request and response bodies, as pydantic models.

These models *are* the contract: ``manifests/openapi.json`` is generated from the sandbox
application that uses them (``mxguard contract write``), and a test fails when the two drift
apart. What goes beyond the published help page is marked ``x-assumption`` (``assumptions.py``).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from api_client.contract import NOTE_MAX_LENGTH
from sandbox.validation import HOSTNAME, SENDER_PATTERN

Timestamp = Annotated[
    str,
    Field(
        description="RFC 3339 timestamp in UTC with microseconds.",
        examples=["2026-11-23T18:55:12.123456Z"],
        pattern=r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$",
    ),
]
ObjectId = Annotated[str, Field(description="Stable opaque identifier.", min_length=1)]


class VerdictType(StrEnum):
    clean = "clean"
    spam = "spam"
    phishing = "phishing"
    malware = "malware"
    blocked = "blocked"


class VerdictAction(StrEnum):
    delivered = "delivered"
    quarantined = "quarantined"
    rejected = "rejected"


class QuarantineStatus(StrEnum):
    held = "held"
    released = "released"
    reported = "reported"
    expired = "expired"


class DomainStatus(StrEnum):
    pending = "pending"
    active = "active"
    suspended = "suspended"


class RuleAction(StrEnum):
    allow = "allow"
    block = "block"


class SortOrder(StrEnum):
    asc = "asc"
    desc = "desc"


class Strict(BaseModel):
    """Request bodies: unknown fields are an error, so typos do not pass silently."""

    model_config = ConfigDict(extra="forbid")


class ErrorDetail(BaseModel):
    type: str = Field(
        description="Machine-readable kind: invalid_request, authentication_failed, not_found, "
        "conflict, rate_limited, server_error.",
        examples=["invalid_request"],
    )
    message: str = Field(description="What went wrong, for people.")
    param: str | None = Field(default=None, description="The offending field, when one is.")


class ErrorBody(BaseModel):
    error: ErrorDetail


class TokenInfo(BaseModel):
    id: ObjectId
    prefix: str = Field(description="The token's first characters, for recognising it.")
    created_at: Timestamp


class RateLimits(BaseModel):
    per_minute: int
    per_hour: int


class Account(BaseModel):
    id: ObjectId
    name: str
    plan: str
    created_at: Timestamp
    token: TokenInfo
    rate_limits: RateLimits


class MxRecord(BaseModel):
    priority: int
    host: str


class Domain(BaseModel):
    id: ObjectId
    domain: str = Field(description="The domain name, lower case, IDNs in punycode.")
    real_mx_host: str = Field(description="The customer's own mail server MxGuard delivers to.")
    status: DomainStatus
    mx_records: list[MxRecord] = Field(description="The MX records to publish for the domain.")
    created_at: Timestamp
    updated_at: Timestamp


HostName = Annotated[
    str,
    Field(
        max_length=253,
        pattern=HOSTNAME,
        description="A host name in ASCII; IDNs as punycode (xn--…). Case-insensitive.",
    ),
]


class DomainCreate(Strict):
    domain: HostName = Field(examples=["example.com"])
    real_mx_host: HostName = Field(examples=["mail.example.com"])


class DomainUpdate(Strict):
    real_mx_host: HostName = Field(examples=["mail2.example.com"])


class SenderRule(BaseModel):
    id: ObjectId
    domain: str
    pattern: str = Field(description="An address a@b.com, a whole domain b.com, or *@b.com.")
    action: RuleAction
    note: str | None = None
    created_at: Timestamp


class SenderRuleCreate(Strict):
    pattern: str = Field(
        max_length=320,
        pattern=SENDER_PATTERN,
        examples=["*@spammy.example"],
        description="An address a@b.com, a whole domain b.com, or *@b.com.",
    )
    action: RuleAction
    note: str | None = Field(default=None, max_length=NOTE_MAX_LENGTH)


class Verdict(BaseModel):
    id: ObjectId
    message_id: str
    domain: str
    sender: str
    recipient: str
    subject: str
    verdict: VerdictType
    score: float = Field(description="Spam score, 0 (certainly clean) to 100.")
    action: VerdictAction
    scanned_at: Timestamp


class QuarantinedMessage(BaseModel):
    id: ObjectId
    verdict_id: ObjectId
    domain: str
    sender: str
    recipient: str
    subject: str
    reason: VerdictType = Field(description="The verdict that put the message in quarantine.")
    status: QuarantineStatus
    quarantined_at: Timestamp
    expires_at: Timestamp
    released_at: Timestamp | None = None
    reported_at: Timestamp | None = None


class Stats(BaseModel):
    since: Timestamp
    until: Timestamp
    domain: str | None = None
    messages_scanned: int
    by_verdict: dict[str, int]
    by_action: dict[str, int]
    quarantined: int
    quarantine_rate: float = Field(description="quarantined / messages_scanned, 0 when none.")
    quarantine_held: int = Field(description="Messages held in quarantine right now.")
    domains: int


class _Page(BaseModel):
    has_more: bool
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page.")


class DomainList(_Page):
    data: list[Domain]


class SenderRuleList(_Page):
    data: list[SenderRule]


class VerdictList(_Page):
    data: list[Verdict]


class QuarantineList(_Page):
    data: list[QuarantinedMessage]
