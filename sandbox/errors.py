"""The contract's error body, ``{"error": {"type", "message", "param"}}``, and how to raise it."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

ERROR_TYPES = {
    400: "invalid_request",
    401: "authentication_failed",
    404: "not_found",
    405: "invalid_request",
    409: "conflict",
    422: "invalid_request",
    429: "rate_limited",
}


PATTERN_MEANINGS = {
    "domain": "host name (ASCII letters, digits and hyphens; IDNs as punycode xn--…)",
    "real_mx_host": "host name (ASCII letters, digits and hyphens; IDNs as punycode xn--…)",
    "pattern": "sender pattern (an address a@b.com, a domain b.com, or *@b.com)",
    "cursor": "cursor: pass the next_cursor of the previous page unchanged",
}
LONGEST_MESSAGE = 1000
"""An error message is cut here: whatever it quotes, an answer stays small."""


def shown(value: object, limit: int = 60) -> str:
    """``repr(value)`` for a message, cut short: a huge input is never echoed whole."""
    if isinstance(value, str) and len(value) > limit:
        return f"{value[:limit]!r}… ({len(value)} characters)"
    text = repr(value)
    return text if len(text) <= limit + 20 else text[: limit + 19] + "…"


class ApiError(Exception):
    def __init__(
        self, status: int, message: str, *, param: str | None = None, error_type: str | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.param = param
        self.error_type = error_type or ERROR_TYPES.get(status, "server_error")


def error_body(error_type: str, message: str, param: str | None = None) -> dict[str, Any]:
    if len(message) > LONGEST_MESSAGE:
        message = message[: LONGEST_MESSAGE - 1] + "…"
    return {"error": {"type": error_type, "message": message, "param": param}}


def error_response(
    status: int,
    error_type: str,
    message: str,
    param: str | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    headers = dict(headers or {})
    if status == 401:
        headers["WWW-Authenticate"] = "Bearer"
    return JSONResponse(error_body(error_type, message, param), status_code=status, headers=headers)


async def on_api_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    return error_response(exc.status, exc.error_type, exc.message, exc.param)


async def on_validation_error(_: Request, exc: Exception) -> JSONResponse:
    """FastAPI's own 422 list becomes the contract's single error naming the first bad field."""
    assert isinstance(exc, RequestValidationError)
    first = exc.errors()[0] if exc.errors() else {}
    if first.get("type") == "json_invalid":
        return error_response(400, "invalid_request", "the request body is not valid JSON")
    location = [str(part) for part in first.get("loc", ()) if part not in ("body", "query", "path")]
    param = ".".join(location) or None
    message = first.get("msg", "invalid request")
    if first.get("type") == "string_pattern_mismatch":
        expected = PATTERN_MEANINGS.get(location[-1] if location else "", "value of the right form")
        message = f"{shown(first.get('input'))} is not a valid {expected}"
    if param:
        message = f"{param}: {message}"
    return error_response(422, "invalid_request", message, param)


async def on_http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    status = exc.status_code
    message = "no such endpoint" if status == 404 else str(exc.detail)
    if status == 404 and len(request.url.path) > 1 and request.url.path.endswith("/"):
        message += " (paths of the API do not end in '/')"
    headers = dict(exc.headers or {})
    if status == 405:
        allowed = request.app.state.allowed_methods(request.scope)
        headers["Allow"] = ", ".join(allowed)
        message = f"{request.method} is not allowed here; use {', '.join(allowed)}"
    kind = ERROR_TYPES.get(status, "server_error")
    return error_response(status, kind, message, headers=headers)


async def on_unexpected(_: Request, exc: Exception) -> JSONResponse:
    return error_response(500, "server_error", "internal error in the sandbox")
