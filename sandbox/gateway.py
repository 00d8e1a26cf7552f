"""What happens to every public API request before and after its endpoint.

One ASGI middleware: it gives the request an id, finds the token, applies the rate limits, plays
armed faults, counts the request, and adds ``X-RateLimit-*`` and ``X-Request-Id`` to every response,
errors included.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sandbox.errors import error_body
from sandbox.faults import Fault, FaultKind
from sandbox.ratelimit import RateDecision
from sandbox.state import SandboxState
from sandbox.tokens import looks_like_token, new_id

PUBLIC_PREFIX = "/api/v1/"
UNGUARDED = ("/api/v1/openapi.json", "/api/v1/docs", "/api/v1/docs/oauth2-redirect")


class GatewayMiddleware:
    def __init__(self, app: ASGIApp, state: SandboxState, route_of: Callable[[Scope], str]) -> None:
        self.app = app
        self.state = state
        self.route_of = route_of

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or not path.startswith(PUBLIC_PREFIX) or path in UNGUARDED:
            await self.app(scope, receive, send)
            return
        token, problem = self._authenticate(scope)
        scope.setdefault("state", {})
        scope["state"]["token"] = token
        scope["state"]["auth_problem"] = problem
        client = scope.get("client") or ("unknown", 0)
        key = token.id if token else f"anonymous:{client[0]}"
        send = self._counting_statuses(key, send)
        decision = self.state.limiter.hit(key, self.state.clock.now())
        headers = _headers(decision, new_id("req"))
        self.state.requests.count(key, f"{scope['method']} {self.route_of(scope)}")
        if not decision.allowed:
            message = f"rate limit exceeded; retry after {decision.retry_after} s"
            body = error_body("rate_limited", message)
            retry = [(b"retry-after", str(decision.retry_after).encode())]
            await _send_json(send, 429, body, headers + retry)
            return
        fault = self.state.faults.take(scope["method"], path, token.id if token else None)
        if fault is not None and await _play(fault, send, headers):
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), *headers]}
            await send(message)

        await self.app(scope, receive, send_with_headers)

    def _counting_statuses(self, key: str, send: Send) -> Send:
        """``send``, counting the status each answer starts with (errors and faults too)."""

        async def counted(message: Message) -> None:
            if message["type"] == "http.response.start":
                self.state.requests.answered(key, int(message["status"]))
            await send(message)

        return counted

    def _authenticate(self, scope: Scope) -> tuple[Any, str | None]:
        given = [value for name, value in scope.get("headers", []) if name == b"authorization"]
        if len(given) > 1:
            # which one counts would depend on who reads it (the last wins in a dict, the first
            # in Starlette's Headers): refuse rather than guess
            return None, "more than one Authorization header; send exactly one"
        raw = given[0].decode("latin-1") if given else ""
        scheme, _, credentials = raw.partition(" ")
        if not raw:
            return None, "missing Authorization header; send 'Authorization: Bearer <token>'"
        if scheme.lower() != "bearer" or not credentials.strip():
            return None, "the Authorization header must be 'Bearer <token>'"
        credentials = credentials.strip()
        if not looks_like_token(credentials):
            return None, "malformed token: expected mxg_live_ or mxg_test_ and 43 characters"
        token = self.state.store.resolve_token(credentials)
        if token is None:
            return None, "the token is unknown or has been revoked"
        return token, None


def _headers(decision: RateDecision, request_id: str) -> list[tuple[bytes, bytes]]:
    return [
        (b"x-ratelimit-limit", str(decision.limit).encode()),
        (b"x-ratelimit-remaining", str(decision.remaining).encode()),
        (b"x-ratelimit-reset", str(decision.reset_at).encode()),
        (b"x-request-id", request_id.encode()),
    ]


async def _send_json(
    send: Send, status: int, body: object, headers: list[tuple[bytes, bytes]]
) -> None:
    payload = json.dumps(body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(payload)).encode()),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})


async def _play(fault: Fault, send: Send, headers: list[tuple[bytes, bytes]]) -> bool:
    """Play a fault; return True when it answered the request itself."""
    if fault.kind is FaultKind.delay:
        await asyncio.sleep(fault.delay_seconds)
        return False
    if fault.kind is FaultKind.status:
        extra = [(b"retry-after", str(fault.retry_after).encode())] if fault.status == 429 else []
        kind = "rate_limited" if fault.status == 429 else "server_error"
        body = error_body(kind, f"simulated failure ({fault.status})")
        await _send_json(send, fault.status, body, headers + extra)
        return True
    if fault.kind is FaultKind.malformed:
        payload = b'{"data": [{"id": "vrd_'
        start_headers = [(b"content-type", b"application/json"), *headers]
        await send({"type": "http.response.start", "status": 200, "headers": start_headers})
        await send({"type": "http.response.body", "body": payload})
        return True
    # drop: promise a body, send part of it, and return without finishing; the server then closes
    # the connection, so the client sees the connection break half-way through the response.
    start_headers = [(b"content-type", b"application/json"), (b"content-length", b"4096")]
    await send({"type": "http.response.start", "status": 200, "headers": start_headers + headers})
    await send({"type": "http.response.body", "body": b'{"data": [', "more_body": True})
    return True
