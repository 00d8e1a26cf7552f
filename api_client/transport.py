"""The one place that speaks HTTP to MxGuard: rate limits, retries, errors, logging.

Every request goes: wait for the rate budget -> send -> note ``X-RateLimit-*`` -> on failure decide
(``retry.py``) to wait and re-send or to raise. Errors are built from the status and the contract's
error body and raised outside any ``except`` block, so they are never chained to a ``requests``
exception (which holds the prepared request, ``Authorization`` header included). Log lines name
method, path, status and request id, never the token.

Every string a server (or a proxy on the way) sent that can end up in an exception or a log line
(``error.message``, ``error.type``, ``error.param``, ``X-Request-Id``, ``Location``, the reason
phrase, a body snippet, keys of a body that breaks the contract) is cut to a bounded length and
scrubbed of the token, whole or in part (``Secret.scrub``).
"""

from __future__ import annotations

import errno
import http.client
import json
import logging
import socket
import ssl
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import urlsplit

import requests
import urllib3.exceptions
from pydantic import BaseModel, ValidationError
from urllib3.exceptions import ConnectTimeoutError, MaxRetryError, ReadTimeoutError

from api_client.auth import BearerAuth, Secret
from api_client.config import Clock, Jitter, Sleep
from api_client.contract import API_PREFIX
from api_client.errors import (
    APIConnectionError,
    APIError,
    APITimeoutError,
    MalformedResponseError,
    RateBudgetExhaustedError,
    RateLimitedError,
    clip,
    error_class,
)
from api_client.ratelimit import RateBudget, ServerRateState, TokenRateLimiter, budget
from api_client.retry import RETRY_STATUSES, RetryPolicy, is_read, may_resend, parse_retry_after

logger = logging.getLogger("api_client")

ModelT = TypeVar("ModelT", bound=BaseModel)
Timeout = float | tuple[float, float]
_NOT_JSON = object()
_SNIPPET = 200
_MESSAGE = 500
"""Longest ``error.message`` kept from a server; longer ones are cut (and end in ``…``)."""
_SHORT = 100
"""Longest ``error.type``, ``error.param``, ``X-Request-Id`` or reason phrase kept."""
Scrub = Callable[[str], str]
_CONTROL = {code: " " for code in (*range(32), 127)}
"""Control characters a server sent become spaces: a message stays one line, and a log line
cannot be forged with a CR/LF."""


@dataclass(frozen=True)
class Reply:
    """A successful answer, its body already decoded from JSON (None when empty)."""

    status: int
    data: Any
    request_id: str | None
    method: str
    path: str
    scrub: Scrub = field(repr=False, compare=False)
    """Cleans what the server sent (keys of the body) before it goes into an error."""

    def parse(self, model: type[ModelT]) -> ModelT:
        """The body as ``model``; ``MalformedResponseError`` if it does not fit the contract."""
        try:
            return model.model_validate(self.data)
        except ValidationError as exc:
            problems = "; ".join(
                f"{clip('.'.join(str(part) for part in e['loc']), _SHORT) or 'body'}: {e['msg']}"
                for e in exc.errors(include_url=False, include_input=False)[:3]
            )
        raise MalformedResponseError(
            self.scrub(f"the answer does not match the contract's {model.__name__}: {problems}"),
            status=self.status,
            request_id=self.request_id,
            method=self.method,
            path=self.path,
        )


@dataclass(frozen=True)
class _Failure:
    error: APIConnectionError
    transient: bool
    """Worth trying again (connection trouble), as opposed to a bad URL or TLS setup."""


class Transport:
    """One ``requests`` session, one token, one rate budget."""

    def __init__(
        self,
        *,
        base_url: str,
        secret: Secret,
        limiter: TokenRateLimiter,
        timeout: Timeout,
        retry: RetryPolicy,
        max_rate_limit_wait: float,
        clock: Clock,
        sleep: Sleep,
        jitter: Jitter,
        user_agent: str,
        session: requests.Session | None = None,
    ) -> None:
        self.base_url = base_url
        self._host = _host(base_url)
        self._secret = secret
        self._limiter = limiter
        self._timeout = timeout
        self._retry = retry
        self._max_wait = max_rate_limit_wait
        self._clock = clock
        self._sleep = sleep
        self._jitter = jitter
        self._server = ServerRateState()
        self._owns_session = session is None
        self._session = session or requests.Session()
        self._session.auth = BearerAuth(secret)
        self._session.headers.update({"User-Agent": user_agent, "Accept": "application/json"})

    @property
    def rate_budget(self) -> RateBudget:
        return budget(self._limiter, self._server.snapshot(), self._clock())

    def close(self) -> None:
        if self._owns_session:
            self._session.close()
        self._limiter.close()

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        body: BaseModel | Mapping[str, Any] | None = None,
    ) -> Reply:
        """Send one API call (``path`` below ``/api/v1``), waiting and retrying as the rules say.

        ``body`` is a model, or the JSON object itself (a request described as data)."""
        method = method.upper()
        path = API_PREFIX + path
        url = self.base_url + path
        query = {k: v for k, v in (params or {}).items() if v is not None}
        payload = (
            body.model_dump(mode="json", exclude_none=True)
            if isinstance(body, BaseModel)
            else None
            if body is None
            else dict(body)
        )
        retries = limited = 0
        while True:
            self._await_budget(method, path)
            outcome = self._send(method, url, path, query, payload)
            if isinstance(outcome, _Failure):
                wait, why = self._after_failure(outcome, method, retries)
                retries += 1
            elif outcome.status_code == 429:
                wait, why = self._after_429(outcome, method, path, limited)
                limited += 1
            elif (
                outcome.status_code in RETRY_STATUSES
                and is_read(method)
                and (retries < self._retry.max_retries)
            ):
                wait, why = self._after_gateway_error(outcome, retries)
                retries += 1
            elif outcome.status_code >= 300:
                raise self._api_error(outcome, method, path)
            else:
                return self._reply(outcome, method, path)
            self._pause(wait, why, path)

    def _after_failure(self, failure: _Failure, method: str, retries: int) -> tuple[float, str]:
        """Back-off before re-sending after a transport failure, or raise it."""
        error = failure.error
        resend = failure.transient and may_resend(method, sent=error.sent)
        if not resend or retries >= self._retry.max_retries:
            raise error
        return self._backoff(retries), f"retry after {type(error).__name__}"

    def _after_429(
        self, response: requests.Response, method: str, path: str, limited: int
    ) -> tuple[float, str]:
        """``Retry-After`` (else the reset, else back-off), or raise when too long or too often."""
        error = self._api_error(response, method, path)
        assert isinstance(error, RateLimitedError)
        wait = error.retry_after
        if wait is None:
            wait = self._server.wait_needed(self._clock()) or self._backoff(limited)
        if wait > self._max_wait or limited >= self._retry.max_rate_limited_retries:
            raise error
        self._server.forget_exhaustion()
        return wait, "429 rate limited, waiting as told"

    def _after_gateway_error(self, response: requests.Response, retries: int) -> tuple[float, str]:
        """Back-off before re-reading after 502/503/504, longer if ``Retry-After`` asks."""
        delay = self._backoff(retries)
        asked = parse_retry_after(response.headers.get("Retry-After"), self._clock())
        if asked is not None and asked <= self._max_wait:
            delay = max(delay, asked)
        return delay, f"retry after HTTP {response.status_code}"

    def _await_budget(self, method: str, path: str) -> None:
        """Wait until both the server's last word and the local windows allow one request."""
        told = self._server.wait_needed(self._clock())
        if told > 0:
            self._wait_for_rate(
                told, "the server said no request is left until reset", method, path
            )
            self._server.forget_exhaustion()
        while True:
            wait = self._limiter.try_acquire()
            if wait <= 0:
                return
            self._wait_for_rate(wait, "client-side rate limit", method, path)

    def _wait_for_rate(self, seconds: float, reason: str, method: str, path: str) -> None:
        if seconds > self._max_wait:
            raise RateBudgetExhaustedError(
                f"rate budget exhausted ({reason}): the next request must wait {seconds:.1f} s, "
                f"more than max_rate_limit_wait={self._max_wait:g} s; nothing was sent",
                error_type="rate_limited",
                retry_after=seconds,
                method=method,
                path=path,
            )
        self._pause(seconds, reason, path)

    def _pause(self, seconds: float, reason: str, path: str) -> None:
        if seconds <= 0:
            return
        logger.debug("waiting %.3f s before %s: %s", seconds, path, reason)
        self._sleep(seconds)

    def _backoff(self, retry: int) -> float:
        return max(0.0, self._jitter(self._retry.backoff(retry)))

    def _send(
        self, method: str, url: str, path: str, query: dict[str, Any], payload: Any
    ) -> requests.Response | _Failure:
        started = time.perf_counter()
        try:
            response = self._session.request(
                method,
                url,
                params=query,
                json=payload,
                timeout=self._timeout,
                allow_redirects=False,
            )
        except requests.RequestException as exc:
            failure = self._failure(exc, method, path)
        else:
            logger.debug(
                "%s %s -> %d (request_id=%s, %.0f ms)",
                method,
                path,
                response.status_code,
                self._server_text(response.headers.get("X-Request-Id"), _SHORT),
                (time.perf_counter() - started) * 1000,
            )
            self._server.observe(response.headers, self._clock())
            return response
        logger.debug("%s %s failed: %s", method, path, failure.error)
        return failure

    def _server_text(self, value: object, limit: int) -> str | None:
        """A string a server sent, cut to ``limit`` characters, on one line, scrubbed of the token.

        Cut first, then scrubbed: what the cut leaves of a token is at most a few characters
        of it, or enough for ``scrub`` to recognise.
        """
        if value is None:
            return None
        text = clip(value if isinstance(value, str) else str(value), limit)
        return self._secret.scrub(text.translate(_CONTROL))

    def _failure(self, exc: requests.RequestException, method: str, path: str) -> _Failure:
        """Our error for a ``requests`` exception: one line naming the host and the cause.

        The exception itself is not kept (its request holds the ``Authorization`` header): the
        error's ``__cause__`` is a fresh one of the same type with its text scrubbed.
        """
        before = _before_sending(exc)
        chain = _chain(exc)
        timeout = isinstance(exc, requests.Timeout) or _caused_by_read_timeout(exc)
        reason = self._timeout_reason(before) if timeout else _reason(chain, self._secret.scrub)
        tls = not timeout and any(
            isinstance(e, ssl.SSLError | requests.exceptions.SSLError) for e in chain
        )
        transient = timeout or (
            isinstance(
                exc, requests.exceptions.ConnectionError | requests.exceptions.ChunkedEncodingError
            )
            and not tls
        )
        if before or tls:
            what = f"could not connect to {self._host}"
        elif timeout:
            what = f"no answer from {self._host}"
        elif transient:
            what = f"the connection to {self._host} failed after the request was sent"
        else:
            what = f"the request to {self._host} could not be made"
        kind = APITimeoutError if timeout else APIConnectionError
        error = kind(
            f"{what}: {reason}",
            sent=not before and not tls and transient,
            host=self._host,
            reason=reason,
            method=method,
            path=self._secret.scrub(path),
        )
        error.__cause__ = _detached(exc, self._secret.scrub)
        return _Failure(error, transient=transient)

    def _timeout_reason(self, connecting: bool) -> str:
        connect, read = self._timeout if isinstance(self._timeout, tuple) else (self._timeout,) * 2
        return f"timed out after {connect if connecting else read:g} s"

    def _api_error(self, response: requests.Response, method: str, path: str) -> APIError:
        status = response.status_code
        error_type = param = message = None
        try:
            payload = json.loads(response.content) if response.content else None
        except ValueError:
            payload = None
        detail = payload.get("error") if isinstance(payload, dict) else None
        if isinstance(detail, dict):
            error_type = self._server_text(detail.get("type"), _SHORT)
            message = self._server_text(detail.get("message"), _MESSAGE)
            param = self._server_text(detail.get("param"), _SHORT)
        if not message:
            body = self._server_text(response.text.strip(), _SNIPPET)
            phrase = self._server_text(response.reason or "", _SHORT)
            message = f"HTTP {status} {phrase}".strip() + (f": {body}" if body else "")
        if 300 <= status < 400:
            location = self._server_text(response.headers.get("Location"), _SNIPPET)
            message = f"unexpected redirect to {location!r}"
        kind = error_class(status)
        where: dict[str, Any] = {
            "status": status,
            "error_type": error_type,
            "param": param,
            "request_id": self._server_text(response.headers.get("X-Request-Id"), _SHORT),
            "method": method,
            "path": self._secret.scrub(path),
        }
        if issubclass(kind, RateLimitedError):
            after = parse_retry_after(response.headers.get("Retry-After"), self._clock())
            return kind(message, retry_after=after, **where)
        return kind(message, **where)

    def _reply(self, response: requests.Response, method: str, path: str) -> Reply:
        request_id = self._server_text(response.headers.get("X-Request-Id"), _SHORT)
        data: Any = None
        if response.content:
            try:
                data = json.loads(response.content)
            except ValueError:
                data = _NOT_JSON
        if data is _NOT_JSON:
            snippet = self._server_text(response.text, 60)
            raise MalformedResponseError(
                f"the answer is not valid JSON (starts {snippet!r})",
                status=response.status_code,
                request_id=request_id,
                method=method,
                path=self._secret.scrub(path),
            )
        return Reply(response.status_code, data, request_id, method, path, self._secret.scrub)


def _before_sending(exc: requests.RequestException) -> bool:
    """True only when the request provably never left: the connection could not be made."""
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return True
    if isinstance(exc, requests.exceptions.ConnectionError) and exc.args:
        reason = exc.args[0]
        if isinstance(reason, MaxRetryError):
            reason = reason.reason
        # urllib3's NewConnectionError (refused, unreachable, DNS) is a ConnectTimeoutError.
        return isinstance(reason, ConnectTimeoutError)
    return False


def _caused_by_read_timeout(exc: requests.RequestException) -> bool:
    """``requests`` reports a timeout while reading the body as a ConnectionError."""
    reason = exc.args[0] if exc.args else None
    if isinstance(reason, MaxRetryError):
        reason = reason.reason
    return isinstance(reason, ReadTimeoutError)


def _host(base_url: str) -> str:
    """``host`` or ``host:port`` of the API, without any user name or password."""
    return urlsplit(base_url).netloc.rpartition("@")[2]


def _chain(exc: BaseException) -> list[BaseException]:
    """``exc`` and what it wraps (``__cause__``, ``__context__``, ``args``, urllib3's
    ``reason``), outermost first."""
    found: list[BaseException] = []
    todo = [exc]
    while todo and len(found) < 32:
        current = todo.pop(0)
        if any(current is seen for seen in found):
            continue
        found.append(current)
        inner = [getattr(current, "reason", None), current.__cause__, current.__context__]
        todo += [e for e in (*inner, *current.args) if isinstance(e, BaseException)]
    return found


_UNREACHABLE = {
    errno.ENETUNREACH: "network unreachable",
    errno.EHOSTUNREACH: "host unreachable",
    errno.EADDRNOTAVAIL: "address not available",
}


def _reason(chain: list[BaseException], scrub: Scrub) -> str:
    """The cause of a transport failure in a few words: the most telling exception it wraps."""

    def first(*kinds: type[BaseException]) -> BaseException | None:
        return next((e for e in chain if isinstance(e, kinds)), None)

    if first(socket.gaierror, urllib3.exceptions.NameResolutionError):
        return "name not resolved"
    certificate = first(ssl.SSLCertVerificationError)
    if isinstance(certificate, ssl.SSLCertVerificationError):
        why = certificate.verify_message
        return "TLS certificate not accepted" + (f" ({scrub(clip(why, 80))})" if why else "")
    tls = first(ssl.SSLError)
    if tls is not None or first(requests.exceptions.SSLError, urllib3.exceptions.SSLError):
        code = getattr(tls, "reason", None)
        detail = f" ({code.lower().replace('_', ' ')})" if isinstance(code, str) else ""
        return "TLS failure" + scrub(clip(detail, 80))
    if first(requests.exceptions.ProxyError, urllib3.exceptions.ProxyError):
        return "proxy failure"
    for kind, words in (
        # RemoteDisconnected is a ConnectionResetError too: it goes first
        (http.client.RemoteDisconnected, "connection closed by the server without an answer"),
        (ConnectionRefusedError, "connection refused"),
        (ConnectionResetError, "connection reset"),
        (ConnectionAbortedError, "connection aborted"),
        (BrokenPipeError, "connection closed while sending (broken pipe)"),
        (TimeoutError, "timed out"),
    ):
        if first(kind):
            return words
    unreachable = next(
        (
            _UNREACHABLE[e.errno]
            for e in chain
            if isinstance(e, OSError) and e.errno in _UNREACHABLE
        ),
        None,
    )
    if unreachable:
        return unreachable
    if first(
        requests.exceptions.ChunkedEncodingError,
        http.client.IncompleteRead,
        urllib3.exceptions.IncompleteRead,
    ):
        return "the answer was cut short"
    if first(http.client.HTTPException):
        return "not a valid HTTP answer"
    if first(urllib3.exceptions.ProtocolError):
        return "connection broken"
    if first(requests.exceptions.InvalidURL, requests.exceptions.MissingSchema):
        return "invalid URL"
    if first(requests.exceptions.InvalidHeader):
        return "invalid header"
    if first(requests.exceptions.ContentDecodingError):
        return "the answer could not be decoded"
    innermost = chain[-1]
    text = " ".join(str(innermost).split())
    words = scrub(clip(text, 120)) if text else ""
    return f"{type(innermost).__name__}: {words}" if words else type(innermost).__name__


def _detached(exc: requests.RequestException, scrub: Scrub) -> requests.RequestException:
    """A copy of ``exc`` to keep as ``__cause__``: same type, scrubbed text, and no request,
    response or traceback (whose frames hold the ``Authorization`` header)."""
    text = scrub(str(exc))
    try:
        copy = type(exc)(text)
    except Exception:  # a subclass with another signature
        copy = requests.RequestException(text)
    copy.request = None
    copy.response = None
    return copy
