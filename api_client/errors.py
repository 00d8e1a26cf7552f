"""Everything the client raises, as one tree.

Catch ``MxGuardError`` for "anything went wrong talking to MxGuard", or a leaf for one case::

    MxGuardError                      status, error_type, message, param, request_id, method, path
     ├── InvalidTokenError            missing or malformed token; checked before any request
     ├── APIConnectionError           no usable answer; ``sent`` says if the request left
     │    └── APITimeoutError         no answer in time
     ├── MalformedResponseError       a success status whose body is not JSON / not the contract
     └── APIError                     the server answered with an error status
          ├── InvalidRequestError     400, 422 (``param`` names the offending field)
          │    └── InvalidArgumentError       raised *before* sending: an argument the API
          │                                   cannot take (an id that would change the path,
          │                                   a time outside 0001-9999 or not RFC 3339)
          ├── AuthenticationError     401 (bad or revoked token)
          ├── NotFoundError           404 (unknown, or another customer's)
          ├── ConflictError           409 (exists already, already released, ...)
          ├── RateLimitedError        429 (``retry_after`` seconds)
          │    └── RateBudgetExhaustedError   raised *before* sending: the wait for the rate
          │                                   limits would exceed ``max_rate_limit_wait``
          └── ServerError             5xx

No exception keeps a ``requests`` object or is chained to one: those carry the prepared request
with its ``Authorization`` header. An ``APIConnectionError``'s ``__cause__`` is a copy of the
``requests`` exception made for it: same type and (scrubbed) text, no request, no traceback.
Everything a server sent (message, type, param, request id, body) is scrubbed of the token before
it gets here, and long values are cut short.
"""

from __future__ import annotations

from typing import Any

SHOWN_PATH = 200
"""Longest path shown by ``str``/``repr`` (a path holds ids the caller passed, of any length)."""


def clip(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters, ending in ``…`` when something was cut."""
    return text if len(text) <= limit else text[: max(0, limit - 1)] + "…"


def shown(value: object, limit: int = 60) -> str:
    """``repr(value)`` for a message, cut short: a huge input is never echoed whole."""
    if isinstance(value, str) and len(value) > limit:
        return f"{value[:limit]!r}… ({len(value)} characters)"
    return clip(repr(value), limit + 20)


class MxGuardError(Exception):
    """Base of every error of this package."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        error_type: str | None = None,
        param: str | None = None,
        request_id: str | None = None,
        method: str | None = None,
        path: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        """HTTP status, when the server answered."""
        self.error_type = error_type
        """The contract's ``error.type`` (``not_found``, ``rate_limited``, ...), when known."""
        self.param = param
        self.request_id = request_id
        """``X-Request-Id`` of the answer, to quote to MxGuard support."""
        self.method = method
        self.path = path

    def __str__(self) -> str:
        path = clip(self.path, SHOWN_PATH) if self.path else None
        where = f"{self.method} {path}: " if self.method and path else ""
        details = [
            f"HTTP {self.status}" if self.status is not None else "",
            self.error_type or "",
            f"param={self.param}" if self.param else "",
            f"request_id={self.request_id}" if self.request_id else "",
        ]
        shown = ", ".join(d for d in details if d)
        return f"{where}{self.message}" + (f" ({shown})" if shown else "")

    def __repr__(self) -> str:
        shown_fields = {
            **self._fields(),
            "path": clip(self.path, SHOWN_PATH) if self.path else None,
        }
        fields = ", ".join(f"{k}={v!r}" for k, v in shown_fields.items() if v is not None)
        return f"{type(self).__name__}({fields})"

    def _fields(self) -> dict[str, Any]:
        return {
            "message": self.message,
            "status": self.status,
            "error_type": self.error_type,
            "param": self.param,
            "request_id": self.request_id,
            "method": self.method,
            "path": self.path,
        }

    def __reduce__(self) -> tuple[Any, ...]:
        """Picklable (e.g. across ``multiprocessing``) despite keyword-only arguments."""
        return (_rebuild, (type(self), dict(self.__dict__)))


def _rebuild(kind: type[MxGuardError], state: dict[str, Any]) -> MxGuardError:
    error = kind.__new__(kind)
    Exception.__init__(error, state.get("message", ""))
    error.__dict__.update(state)
    return error


class InvalidTokenError(MxGuardError, ValueError):
    """The token is missing or not ``mxg_live_``/``mxg_test_`` + 43 characters of [A-Za-z0-9_-].

    Raised while constructing the client, so no request is ever sent with it.
    """


class APIConnectionError(MxGuardError):
    """No usable HTTP answer: the connection failed, broke, or the body was cut short.

    The message is one line naming the host and the cause, e.g. ``could not connect to
    app.mxguard.uk: name not resolved``; ``host`` and ``reason`` hold the two parts. The
    ``requests`` exception behind it is kept, without its request, as ``__cause__``.

    ``sent`` is False only when the failure provably happened before the request left (it could
    not connect): only then may a write be sent again safely.
    """

    def __init__(
        self,
        message: str,
        *,
        sent: bool,
        host: str | None = None,
        reason: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(message, **kwargs)
        self.sent = sent
        self.host = host
        """``host`` or ``host:port`` the client tried to reach."""
        self.reason = reason
        """The cause in a few words: ``name not resolved``, ``connection refused``, ``timed out
        after 30 s``, ``TLS certificate not accepted (…)``, ``connection reset``, ..."""

    def _fields(self) -> dict[str, Any]:
        return {**super()._fields(), "sent": self.sent, "host": self.host, "reason": self.reason}


class APITimeoutError(APIConnectionError):
    """No answer within the timeout (connecting, or waiting for the response)."""


class MalformedResponseError(MxGuardError):
    """A success status whose body is not JSON, or not the shape the contract promises."""


class APIError(MxGuardError):
    """The server answered with an error status and (normally) the contract's error body."""


class InvalidRequestError(APIError):
    """400 or 422: the request was refused as invalid; ``param`` names the offending field."""


class InvalidArgumentError(InvalidRequestError, ValueError):
    """Raised before sending: an argument the API cannot take, so no request is made.

    An empty id, or ``.``/``..`` (which would change the request's path); a naive ``datetime``,
    one outside the years 0001-9999 once in UTC, or a string that is not an RFC 3339 timestamp.
    ``param`` names the argument; ``status`` and ``request_id`` are None. A ``ValueError`` too.
    """


class AuthenticationError(APIError):
    """401: the token is unknown or has been revoked."""


class NotFoundError(APIError):
    """404: no such object on this account (another customer's objects are 404 too)."""


class ConflictError(APIError):
    """409: the request conflicts with the current state (exists already, already released)."""


class RateLimitedError(APIError):
    """429: too many requests for this token; ``retry_after`` is the wait the server asked for.

    The client waits and retries by itself; this is raised when the wait would exceed
    ``max_rate_limit_wait`` or the server kept refusing.
    """

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after

    def _fields(self) -> dict[str, Any]:
        return {**super()._fields(), "retry_after": self.retry_after}


class RateBudgetExhaustedError(RateLimitedError):
    """Raised before sending: the client's own limiter (or the server's last ``X-RateLimit-*``
    headers) says the next request must wait ``retry_after`` seconds, more than allowed.

    Nothing was sent, so ``status`` and ``request_id`` are None. Triggers stop a poll on it.
    """


class ServerError(APIError):
    """5xx: MxGuard failed. Reads were already retried; writes are never re-sent blindly."""


_BY_STATUS: dict[int, type[APIError]] = {
    400: InvalidRequestError,
    401: AuthenticationError,
    404: NotFoundError,
    409: ConflictError,
    422: InvalidRequestError,
    429: RateLimitedError,
}


def error_class(status: int) -> type[APIError]:
    """The error class for an HTTP error status."""
    if status >= 500:
        return ServerError
    return _BY_STATUS.get(status, APIError)
