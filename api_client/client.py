"""``MxGuardClient``: the entry point that wires token, rate limits, retries and resources."""

from __future__ import annotations

import time
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any

import requests

from api_client.auth import Secret, load_token
from api_client.config import (
    DEFAULT_MAX_RATE_LIMIT_WAIT,
    DEFAULT_TIMEOUT,
    Clock,
    Jitter,
    Sleep,
    resolve_base_url,
    resolve_rate_limits,
    user_agent,
)
from api_client.contract import API_PREFIX
from api_client.errors import InvalidArgumentError
from api_client.mapping import HttpRequest, fill_path, resolve
from api_client.models import Account, Stats
from api_client.ratelimit import DEFAULT_MARGIN, RateBudget, TokenRateLimiter
from api_client.resources import AccountResource, Domains, Quarantine, SenderRules, Verdicts
from api_client.resources._base import TimeArg, segment
from api_client.retry import RetryPolicy, equal_jitter
from api_client.transport import Reply, Timeout, Transport


class MxGuardClient:
    """A typed client for the MxGuard API v1; use it as a context manager.

    ``token`` defaults to ``$MXGUARD_API_TOKEN`` and ``base_url`` to ``$MXGUARD_API_URL``, then to
    ``https://app.mxguard.uk``. The token is checked before anything is sent
    (``InvalidTokenError``) and never shown in full.

    Rate limits: every request first takes a slot in both windows (``per_minute``, ``per_hour``)
    of a budget kept in ``rate_limit_db`` (default: a file in the user cache directory shared by
    every process on this machine; ``":memory:"`` for a private one), and the client also obeys
    the server's ``X-RateLimit-*`` headers. A wait longer than ``max_rate_limit_wait`` raises
    ``RateBudgetExhaustedError`` (or ``RateLimitedError`` on a 429) instead of sleeping.

    ``clock`` (Unix seconds), ``sleep`` and ``jitter`` are injectable so that tests are exact
    and fast.
    """

    def __init__(
        self,
        token: str | Secret | None = None,
        base_url: str | None = None,
        *,
        timeout: Timeout = DEFAULT_TIMEOUT,
        per_minute: int | None = None,
        per_hour: int | None = None,
        rate_limit_margin: float = DEFAULT_MARGIN,
        rate_limit_db: str | Path | None = None,
        max_rate_limit_wait: float = DEFAULT_MAX_RATE_LIMIT_WAIT,
        retry: RetryPolicy | None = None,
        clock: Clock = time.time,
        sleep: Sleep = time.sleep,
        jitter: Jitter = equal_jitter,
        session: requests.Session | None = None,
    ) -> None:
        self._secret = load_token(token)
        self.base_url = resolve_base_url(base_url)
        per_minute, per_hour = resolve_rate_limits(per_minute, per_hour)
        self.clock = clock
        """The time everything built on this client takes as now (a search's "last N days")."""
        limiter = TokenRateLimiter(
            self._secret.fingerprint,
            per_minute=per_minute,
            per_hour=per_hour,
            margin=rate_limit_margin,
            path=rate_limit_db,
            clock=clock,
        )
        self._transport = Transport(
            base_url=self.base_url,
            secret=self._secret,
            limiter=limiter,
            timeout=timeout,
            retry=retry or RetryPolicy(),
            max_rate_limit_wait=max_rate_limit_wait,
            clock=clock,
            sleep=sleep,
            jitter=jitter,
            user_agent=user_agent(),
            session=session,
        )
        self._account = AccountResource(self._transport)
        self.domains = Domains(self._transport)
        self.sender_rules = SenderRules(self._transport)
        self.verdicts = Verdicts(self._transport)
        self.quarantine = Quarantine(self._transport)

    @property
    def token(self) -> Secret:
        """The token, as a ``Secret`` (``.redacted`` to show, ``.fingerprint`` to key files)."""
        return self._secret

    @property
    def rate_budget(self) -> RateBudget:
        """Requests left in the minute and hour windows, and what the server last reported."""
        return self._transport.rate_budget

    def me(self) -> Account:
        """Verify the token; the account, the token's prefix and the documented limits."""
        return self._account.me()

    def stats(
        self, *, since: TimeArg = None, until: TimeArg = None, domain: str | None = None
    ) -> Stats:
        """Counts over ``[since, until)`` (default: the last 24 h), optionally for one domain."""
        return self._account.stats(since=since, until=until, domain=domain)

    def send(
        self,
        request: HttpRequest,
        inputs: Mapping[str, Any],
        extra: Mapping[str, Any] | None = None,
    ) -> Reply:
        """Send a request described as data (``api_client.mapping``), its values taken from
        ``inputs`` (already validated and in JSON form) and ``extra`` query parameters.

        This is how operations run: the same description becomes the manifests and every
        platform's export. Empty values are left out; path values are percent-encoded and a dot
        segment is refused, as with the typed resources; ``now`` is this client's clock.
        """
        if not request.path.startswith(API_PREFIX + "/"):
            raise InvalidArgumentError(f"{request.path!r} is not a path under {API_PREFIX}")
        now = datetime.fromtimestamp(self.clock(), UTC)
        path = fill_path(request.path, inputs, segment).removeprefix(API_PREFIX)
        query = {p.name: resolve(p, inputs, now) for p in request.query}
        query.update(extra or {})
        body = {p.name: resolve(p, inputs, now) for p in request.body}
        return self._transport.request(
            request.method,
            path,
            params={k: v for k, v in query.items() if v not in (None, "", [])},
            body={k: v for k, v in body.items() if v is not None}
            if request.method in ("POST", "PATCH")
            else None,
        )

    def close(self) -> None:
        self._transport.close()

    def __enter__(self) -> MxGuardClient:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"MxGuardClient(base_url={self.base_url!r}, token={self._secret!r})"
