"""A typed client for the MxGuard API v1: the only code of the bundle that speaks HTTP to it.

    from api_client import MxGuardClient

    with MxGuardClient() as client:  # $MXGUARD_API_TOKEN, $MXGUARD_API_URL
        for message in client.quarantine.list(domain="example.com", status="held"):
            client.quarantine.release(message.id)

See ``docs/api-client.md`` for errors, retries, rate limits and token redaction.
"""

from __future__ import annotations

from api_client.auth import Secret, check_token
from api_client.client import MxGuardClient
from api_client.config import TOKEN_ENV, URL_ENV
from api_client.contract import DEFAULT_BASE_URL
from api_client.errors import (
    APIConnectionError,
    APIError,
    APITimeoutError,
    AuthenticationError,
    ConflictError,
    InvalidArgumentError,
    InvalidRequestError,
    InvalidTokenError,
    MalformedResponseError,
    MxGuardError,
    NotFoundError,
    RateBudgetExhaustedError,
    RateLimitedError,
    ServerError,
)
from api_client.models import (
    Account,
    Domain,
    DomainCreate,
    DomainStatus,
    DomainUpdate,
    MxRecord,
    Page,
    QuarantinedMessage,
    QuarantineStatus,
    RateLimits,
    RuleAction,
    SenderRule,
    SenderRuleCreate,
    SortOrder,
    Stats,
    TokenInfo,
    Verdict,
    VerdictAction,
    VerdictType,
)
from api_client.ratelimit import RateBudget, TokenRateLimiter
from api_client.retry import RetryPolicy

__all__ = [
    "DEFAULT_BASE_URL",
    "TOKEN_ENV",
    "URL_ENV",
    "APIConnectionError",
    "APIError",
    "APITimeoutError",
    "Account",
    "AuthenticationError",
    "ConflictError",
    "Domain",
    "DomainCreate",
    "DomainStatus",
    "DomainUpdate",
    "InvalidArgumentError",
    "InvalidRequestError",
    "InvalidTokenError",
    "MalformedResponseError",
    "MxGuardClient",
    "MxGuardError",
    "MxRecord",
    "NotFoundError",
    "Page",
    "QuarantineStatus",
    "QuarantinedMessage",
    "RateBudget",
    "RateBudgetExhaustedError",
    "RateLimitedError",
    "RateLimits",
    "RetryPolicy",
    "RuleAction",
    "Secret",
    "SenderRule",
    "SenderRuleCreate",
    "ServerError",
    "SortOrder",
    "Stats",
    "TokenInfo",
    "TokenRateLimiter",
    "Verdict",
    "VerdictAction",
    "VerdictType",
    "check_token",
]
