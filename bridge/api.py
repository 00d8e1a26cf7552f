"""The bridge's HTTP API: subscribe, list, unsubscribe, deliveries, recover, samples (``/v1/``).

Callers authenticate with their own MxGuard token (``Authorization: Bearer mxg_live_…``). The
bridge asks MxGuard who it belongs to (``/me``), remembers the answer for a short while (so an API
call does not cost a request to MxGuard each time), and keeps the token sealed in storage,
because its pumps poll with it. Everything is scoped to that customer: another customer's
subscription is 404, exactly as an unknown one.

The token never leaves: no answer, error message or repr shows it, and nothing here logs. It is
keyed everywhere by its fingerprint. A subscription's signing secret is shown once, in the answer
that creates it.

Errors follow the MxGuard contract's shape, ``{"error": {"type", "message", "param"}}``, for
every 4xx and 5xx: request validation (422, or 400 for a body that is not JSON), unknown routes
(404), wrong methods (405), MxGuard refusing the token (401), MxGuard unreachable or failing
(502) or out of requests for this token (503 with ``Retry-After``).

The application is built by ``create_app`` from what it needs, so it imports no command-line
code: the storage, the available triggers (``{key: TriggerDefinition}``), a factory of MxGuard
clients for a token, and a clock.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import math
import secrets
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Path, Query, Request, Response, Security
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse, RedirectResponse
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError, field_validator
from starlette.exceptions import HTTPException as StarletteHTTPException

from api_client import (
    APIConnectionError,
    AuthenticationError,
    InvalidTokenError,
    MxGuardClient,
    MxGuardError,
    RateLimitedError,
    Secret,
    ServerError,
    check_token,
)
from api_client.contract import MICROS
from api_client.errors import shown
from bridge.console.app import PATH as CONSOLE
from bridge.console.app import LoginRefusedError, console_app
from bridge.models import Attempt, Subscription, SubscriptionStatus
from bridge.signing import MIN_SECRET_BYTES, SECRET_PREFIX, new_secret, rfc3339
from bridge.storage import BridgeStorage
from bridge.targets import Resolver, TargetRefusedError, check_target, resolve_with_getaddrinfo
from triggers.base import TriggerDefinition, from_micros, to_micros

TITLE = "MxGuard bridge"
VERSION = "1.0.0"
SUMMARY = (
    "Subscribe a webhook target to an MxGuard event: the bridge polls MxGuard once per token and "
    "event, and pushes every new item to every matching subscription as a signed webhook "
    "(Standard Webhooks). Authenticate with your MxGuard token: `Authorization: Bearer <token>`; "
    "everything is scoped to the token's customer. Errors are "
    '`{"error": {"type", "message", "param"}}`.'
)

PREFIX = "/v1"
"""Every route of the API is under it (a v2 can live beside it)."""
SUBSCRIPTIONS = PREFIX + "/subscriptions"
SAMPLES = PREFIX + "/samples"

AUTH_CACHE_S = 60.0
"""How long MxGuard's answer about a token is trusted before it is asked again (a revoked token
keeps working for at most this long)."""
SUBSCRIPTION_ID_BYTES = 12
"""Random bytes of a subscription id: ``sub_`` and 24 hex digits."""
SAMPLE_COUNT = 3
"""Items ``/v1/samples/{event}`` returns, newest first."""
DEFAULT_ATTEMPTS = 20
MAX_ATTEMPTS = 100
MAX_TARGET_URL = 2048
MAX_DESCRIPTION = 500
MAX_EVENT = 100
LONGEST_MESSAGE = 1000
"""An error message is cut here, so that an answer stays small whatever it quotes."""

ERROR_TYPES = {
    400: "invalid_request",
    401: "authentication_failed",
    404: "not_found",
    405: "invalid_request",
    422: "invalid_request",
    500: "server_error",
    502: "upstream_error",
    503: "upstream_unavailable",
}


# -- errors ------------------------------------------------------------------------------------


class BridgeApiError(Exception):
    """An answer in the contract's error shape; ``message`` never holds a token or a secret."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        param: str | None = None,
        error_type: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.param = param
        self.error_type = error_type or ERROR_TYPES.get(status, "server_error")
        self.headers = dict(headers or {})


def error_response(
    status: int,
    message: str,
    *,
    param: str | None = None,
    error_type: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    if len(message) > LONGEST_MESSAGE:
        message = message[: LONGEST_MESSAGE - 1] + "…"
    sent = dict(headers or {})
    if status == 401:
        sent["WWW-Authenticate"] = "Bearer"
    kind = error_type or ERROR_TYPES.get(status, "server_error")
    body = {"error": {"type": kind, "message": message, "param": param}}
    return JSONResponse(body, status_code=status, headers=sent)


def upstream_error(error: MxGuardError) -> BridgeApiError:
    """What the caller is told when MxGuard refuses or fails (the client's messages are already
    scrubbed of the token; only their short parts are quoted)."""
    if isinstance(error, AuthenticationError | InvalidTokenError):
        return BridgeApiError(401, "MxGuard does not accept this token (unknown or revoked)")
    if isinstance(error, RateLimitedError):
        wait = error.retry_after
        headers = {"Retry-After": str(max(1, math.ceil(wait)))} if wait is not None else None
        later = f"; retry in {math.ceil(wait)} s" if wait is not None else ""
        return BridgeApiError(
            503,
            f"this token has no MxGuard requests left for now{later}",
            error_type="upstream_rate_limited",
            headers=headers,
        )
    if isinstance(error, APIConnectionError):
        return BridgeApiError(502, f"MxGuard cannot be reached ({error.reason or 'no answer'})")
    if isinstance(error, ServerError):
        return BridgeApiError(502, f"MxGuard failed (HTTP {error.status})")
    status = f"HTTP {error.status}" if error.status is not None else type(error).__name__
    return BridgeApiError(502, f"unexpected answer from MxGuard ({status})")


# -- the documents exchanged -------------------------------------------------------------------

Timestamp = Annotated[
    str,
    Field(
        description="RFC 3339, UTC.",
        json_schema_extra={"format": "date-time"},
        examples=["2026-11-23T18:55:12.123456Z"],
    ),
]


class ErrorDetail(BaseModel):
    type: str = Field(
        description="Machine-readable kind: invalid_request, authentication_failed, not_found, "
        "server_error, upstream_error, upstream_unavailable, upstream_rate_limited.",
        examples=["invalid_request"],
    )
    message: str = Field(description="What went wrong, for people.")
    param: str | None = Field(default=None, description="The offending field, when one is.")


class ErrorBody(BaseModel):
    error: ErrorDetail


class SubscriptionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    event: str = Field(
        min_length=1, max_length=MAX_EVENT, description="The event: a trigger's key."
    )
    filters: dict[str, Any] | None = Field(
        default=None,
        description="The trigger's own filters (as its polling trigger takes them); all items "
        "when absent.",
    )
    # The patterns are stated in the document (clients and schema-driven tests see the form), and
    # checked by the validators below, whose messages name the rule instead of quoting a regex.
    target_url: str = Field(
        min_length=1,
        max_length=MAX_TARGET_URL,
        json_schema_extra={"pattern": r"^\s*[Hh][Tt][Tt][Pp][Ss]?://[^\s/?#@]+"},
        description="Where deliveries are POSTed: http(s), a public address (the address rules "
        "are checked against DNS when subscribing and before every delivery).",
    )
    secret: str | None = Field(
        default=None,
        json_schema_extra={"pattern": r"^whsec_[A-Za-z0-9+/]{32,}={0,2}$"},
        description=f"The signing secret to use ({SECRET_PREFIX!r} and base64 of at least "
        f"{MIN_SECRET_BYTES} bytes); the bridge makes one when absent.",
    )
    description: str = Field(default="", max_length=MAX_DESCRIPTION)

    @field_validator("target_url")
    @classmethod
    def _strip(cls, value: str) -> str:
        return value.strip()

    @field_validator("secret")
    @classmethod
    def _secret_form(cls, value: str | None) -> str | None:
        """Checked as signing will use it; the message never quotes the secret."""
        if value is None:
            return None
        if not value.startswith(SECRET_PREFIX):
            raise ValueError(f"the secret must start with {SECRET_PREFIX!r}")
        try:
            raw = base64.b64decode(value[len(SECRET_PREFIX) :], validate=True)
        except (binascii.Error, ValueError):
            raise ValueError(f"the secret must be {SECRET_PREFIX!r} and base64") from None
        if len(raw) < MIN_SECRET_BYTES:
            raise ValueError(
                f"the secret must be {SECRET_PREFIX!r} and the base64 of at least "
                f"{MIN_SECRET_BYTES} bytes; it holds {len(raw)}"
            )
        return value


class SubscriptionOut(BaseModel):
    id: str = Field(examples=["sub_0f3a9c2e7b1d4a5c6e8f0a1b"])
    event: str
    filters: dict[str, Any] = Field(description="The trigger's filters, validated and complete.")
    target_url: str
    description: str
    created_at: Timestamp = Field(description="Items from this moment on are delivered.")
    status: SubscriptionStatus = Field(
        description="active; failing (retries scheduled); disabled (410, or failing too long: "
        "`recover` re-enables it)."
    )
    failing_since: Timestamp | None = None


class SubscriptionCreated(SubscriptionOut):
    secret: str = Field(
        description="The signing secret (Standard Webhooks). Shown only in this answer."
    )


class SubscriptionList(BaseModel):
    data: list[SubscriptionOut]


class AttemptOut(BaseModel):
    delivery_id: int
    at: Timestamp
    status_code: int | None = Field(description="The target's answer; null when none came.")
    latency_ms: float
    excerpt: str = Field(description="The start of the answer's body, or the error.")
    next_retry_at: Timestamp | None = Field(description="null: delivered, or given up.")
    reason: str | None = Field(default=None, description="Why it was given up, when it was.")


class AttemptList(BaseModel):
    data: list[AttemptOut]


class RecoverIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    since: AwareDatetime = Field(
        description="Undelivered items queued from this moment on are sent again (RFC 3339)."
    )

    @field_validator("since", mode="before")
    @classmethod
    def _rfc3339_text(cls, value: object) -> object:
        """A number is not taken for seconds since the epoch: the API speaks RFC 3339."""
        if not isinstance(value, str):
            raise ValueError("since must be an RFC 3339 timestamp, e.g. 2026-11-23T18:55:12Z")
        return value


class RecoverOut(BaseModel):
    requeued: int
    status: SubscriptionStatus


class Sample(BaseModel):
    type: str = Field(description="The event.")
    timestamp: Timestamp = Field(description="When the item happened.")
    data: dict[str, Any] = Field(description="The item as the MxGuard API returns it.")


class SampleList(BaseModel):
    data: list[Sample]


def _error(description: str) -> dict[str, Any]:
    return {"model": ErrorBody, "description": description}


COMMON: dict[int | str, dict[str, Any]] = {
    400: _error("A body that is not JSON."),
    401: _error("Missing or malformed token, or one MxGuard does not accept."),
    422: _error("Invalid input; `error.param` names the field."),
    502: _error("MxGuard cannot be reached or failed."),
    503: _error("The token has no MxGuard requests left for now; see `Retry-After`."),
}
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: _error("Unknown, or another customer's.")}


# -- authentication ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Caller:
    """Who is calling: the customer MxGuard says the token belongs to, and the token (a
    ``Secret``, which never shows itself)."""

    customer_id: str
    token: Secret

    @property
    def fingerprint(self) -> str:
        return self.token.fingerprint


class TokenCheck:
    """Asks MxGuard (``/me``) whose a token is, and trusts the answer for ``ttl_us``; on each
    answer, keeps the token sealed in storage for the pumps."""

    def __init__(
        self,
        storage: BridgeStorage,
        client_factory: Callable[[str], MxGuardClient],
        clock_us: Callable[[], int],
        ttl_us: int,
    ) -> None:
        self.storage = storage
        self.client_factory = client_factory
        self.clock_us = clock_us
        self.ttl_us = ttl_us
        self._known: dict[str, tuple[bytes, str, int]] = {}
        """fingerprint -> (the token's whole SHA-256, customer id, trusted until): the short
        fingerprint finds the entry, the whole digest decides whether it is this token."""
        self._lock = threading.Lock()

    def caller(self, token: Secret, *, keep: bool = True) -> Caller:
        """Whose ``token`` is. ``keep=False`` (the console's login) asks without keeping the
        token in storage, and without trusting the answer later: only an API call keeps it."""
        fingerprint = token.fingerprint
        digest = hashlib.sha256(token.reveal().encode()).digest()
        now = self.clock_us()
        with self._lock:
            known = self._known.get(fingerprint)
        if known is not None and now < known[2] and hmac.compare_digest(known[0], digest):
            return Caller(known[1], token)
        try:
            client = self.client_factory(token.reveal())
        except MxGuardError as error:
            raise upstream_error(error) from None
        try:
            account = client.me()
            fingerprint = client.token.fingerprint
        except MxGuardError as error:
            raise upstream_error(error) from None
        finally:
            client.close()
        if not keep:
            return Caller(account.id, token)
        self.storage.put_token(account.id, fingerprint, token.reveal())
        with self._lock:
            for stale in [k for k, (_, _, until) in self._known.items() if until <= now]:
                del self._known[stale]
            self._known[fingerprint] = (digest, account.id, now + self.ttl_us)
        return Caller(account.id, token)


bearer = HTTPBearer(auto_error=False, description="Your MxGuard token: `Bearer mxg_live_…`")


def caller(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Security(bearer)],
) -> Caller:
    """The dependency of every route: the token checked locally, then with MxGuard."""
    if credentials is None:
        if request.headers.get("authorization"):
            message = "the Authorization header must be 'Bearer <your MxGuard token>'"
        else:
            message = "authentication required: send 'Authorization: Bearer <MxGuard token>'"
        raise BridgeApiError(401, message)
    try:
        token = check_token(credentials.credentials, source="the Authorization header")
    except InvalidTokenError as error:
        raise BridgeApiError(401, error.message) from None
    check: TokenCheck = request.app.state.token_check
    return check.caller(token)


Authenticated = Annotated[Caller, Depends(caller)]
SubscriptionId = Annotated[str, Path(description="The subscription's id (`sub_…`).")]


# -- the application ---------------------------------------------------------------------------


def _time(micros: int | None) -> str | None:
    return None if micros is None else rfc3339(from_micros(micros))


def subscription_out(subscription: Subscription) -> dict[str, Any]:
    """A subscription as answers show it: everything but the secret and the token's
    fingerprint."""
    return {
        "id": subscription.id,
        "event": subscription.event,
        "filters": subscription.filters,
        "target_url": subscription.target_url,
        "description": subscription.description,
        "created_at": _time(subscription.created_at),
        "status": subscription.status.value,
        "failing_since": _time(subscription.failing_since),
    }


def attempt_out(attempt: Attempt) -> dict[str, Any]:
    reason = attempt.extra.get("reason")
    return {
        "delivery_id": attempt.delivery_id,
        "at": _time(attempt.at),
        "status_code": attempt.status_code,
        "latency_ms": attempt.latency_ms,
        "excerpt": attempt.excerpt,
        "next_retry_at": _time(attempt.next_attempt_at),
        "reason": reason if isinstance(reason, str) else None,
    }


def _operation_id(route: APIRoute) -> str:
    return route.name


def create_app(
    storage: BridgeStorage,
    *,
    triggers: Mapping[str, TriggerDefinition[Any]],
    client_factory: Callable[[str], MxGuardClient],
    clock_us: Callable[[], int],
    allow_private_targets: bool = False,
    resolve: Resolver = resolve_with_getaddrinfo,
    randbytes: Callable[[int], bytes] = secrets.token_bytes,
    auth_cache_s: float = AUTH_CACHE_S,
) -> FastAPI:
    """The bridge's API over ``storage``.

    ``triggers``: the events that can be subscribed to, by key. ``client_factory(token)``: an
    MxGuard client for a customer's token (the caller chooses the base URL, rate-limit file...).
    ``clock_us``: now, in microseconds since the epoch. ``allow_private_targets``: the operator's
    ``--allow-private-targets``. ``resolve``: how target host names are resolved (for the address
    rules). ``randbytes``: randomness for subscription ids and secrets.
    """
    events = dict(triggers)
    valid = ", ".join(sorted(events)) or "(none)"

    def own(who: Caller, subscription_id: str) -> Subscription:
        found = storage.subscription(who.customer_id, subscription_id)
        if found is None:
            raise BridgeApiError(404, f"no subscription {shown(subscription_id)}", param="id")
        return found

    def trigger_for(event: str, status: int) -> TriggerDefinition[Any]:
        trigger = events.get(event)
        if trigger is None:
            raise BridgeApiError(
                status, f"event: no event {shown(event)}; one of: {valid}", param="event"
            )
        return trigger

    router = APIRouter(prefix=PREFIX, responses=COMMON)

    @router.post(
        "/subscriptions",
        status_code=201,
        response_model=SubscriptionCreated,
        summary="Subscribe a target to an event",
    )
    def subscribe(body: SubscriptionIn, who: Authenticated, response: Response) -> dict[str, Any]:
        """Items that happen from now on and pass the filters are POSTed to `target_url`, signed
        with `secret` (shown only in this answer)."""
        trigger = trigger_for(body.event, 422)
        try:
            filters = trigger.filters.model_validate(body.filters or {})
        except ValidationError as error:
            first = error.errors()[0]
            where = ".".join(str(part) for part in first.get("loc", ()))
            param = f"filters.{where}" if where else "filters"
            raise BridgeApiError(422, f"{param}: {first.get('msg')}", param=param) from None
        try:
            check_target(body.target_url, allow_private=allow_private_targets, resolve=resolve)
        except TargetRefusedError as refused:
            raise BridgeApiError(
                422,
                f"target_url is refused (rule: {refused.rule}): {refused.message}",
                param="target_url",
                error_type="target_refused",
            ) from None
        subscription = Subscription(
            id="sub_" + randbytes(SUBSCRIPTION_ID_BYTES).hex(),
            customer_id=who.customer_id,
            token_fingerprint=who.fingerprint,
            event=trigger.key,
            filters=filters.model_dump(mode="json"),
            target_url=body.target_url,
            secret=body.secret or new_secret(randbytes),
            description=body.description,
            created_at=clock_us(),
        )
        storage.add_subscription(subscription)
        response.headers["Location"] = f"{SUBSCRIPTIONS}/{subscription.id}"
        return {**subscription_out(subscription), "secret": subscription.secret}

    @router.get(
        "/subscriptions", response_model=SubscriptionList, summary="List your subscriptions"
    )
    def list_subscriptions(
        who: Authenticated,
        target_url: Annotated[
            str | None,
            Query(max_length=MAX_TARGET_URL, description="Only those to this target."),
        ] = None,
    ) -> dict[str, Any]:
        """Oldest first; without their secrets."""
        found = storage.subscriptions(who.customer_id, target_url=target_url)
        return {"data": [subscription_out(s) for s in found]}

    @router.get(
        "/subscriptions/{id}",
        response_model=SubscriptionOut,
        responses=NOT_FOUND,
        summary="One subscription",
    )
    def get_subscription(who: Authenticated, id: SubscriptionId) -> dict[str, Any]:
        return subscription_out(own(who, id))

    @router.delete(
        "/subscriptions/{id}",
        status_code=204,
        response_class=Response,
        responses=NOT_FOUND,
        summary="Unsubscribe",
    )
    def delete_subscription(who: Authenticated, id: SubscriptionId) -> Response:
        """Nothing more is sent to it; its undelivered items are dropped."""
        if not storage.remove_subscription(who.customer_id, id):
            raise BridgeApiError(404, f"no subscription {shown(id)}", param="id")
        return Response(status_code=204)

    @router.get(
        "/subscriptions/{id}/deliveries",
        response_model=AttemptList,
        responses=NOT_FOUND,
        summary="Delivery attempts, newest first",
    )
    def deliveries(
        who: Authenticated,
        id: SubscriptionId,
        limit: Annotated[
            int, Query(ge=1, le=MAX_ATTEMPTS, description=f"At most {MAX_ATTEMPTS}.")
        ] = DEFAULT_ATTEMPTS,
    ) -> dict[str, Any]:
        own(who, id)
        return {"data": [attempt_out(a) for a in storage.attempts(who.customer_id, id, limit)]}

    @router.post(
        "/subscriptions/{id}/recover",
        response_model=RecoverOut,
        responses=NOT_FOUND,
        summary="Send again what failed, and re-enable",
    )
    def recover(who: Authenticated, id: SubscriptionId, body: RecoverIn) -> dict[str, Any]:
        """Undelivered items queued since `since` become due now; a disabled subscription is
        active again."""
        own(who, id)
        requeued = storage.recover(who.customer_id, id, to_micros(body.since))
        return {"requeued": requeued, "status": own(who, id).status.value}

    @router.get(
        "/samples/{event}",
        response_model=SampleList,
        responses=NOT_FOUND,
        summary="Recent items, as they are delivered",
    )
    def samples(
        who: Authenticated,
        event: Annotated[str, Path(max_length=MAX_EVENT, description="The event.")],
    ) -> dict[str, Any]:
        """The newest items of the event on your account (up to 3), in the delivered shape:
        for platforms' sample data and test runs."""
        trigger = trigger_for(event, 404)
        try:
            client = client_factory(who.token.reveal())
        except MxGuardError as error:
            raise upstream_error(error) from None
        try:
            page = trigger.fetch(
                client,
                filters=trigger.filters(),
                since=None,
                cursor=None,
                limit=SAMPLE_COUNT,
                order="desc",
            )
        except MxGuardError as error:
            raise upstream_error(error) from None
        finally:
            client.close()
        data = []
        for item in page.items[:SAMPLE_COUNT]:
            happened, _ = trigger.item_key(item)
            data.append(
                {
                    "type": trigger.key,
                    "timestamp": _time(happened),
                    "data": item.model_dump(mode="json"),
                }
            )
        return {"data": data}

    app = FastAPI(
        title=TITLE,
        version=VERSION,
        description=SUMMARY,
        docs_url="/docs",
        openapi_url="/openapi.json",
        redoc_url=None,
        generate_unique_id_function=_operation_id,
        # a path ending in '/' is no endpoint: a 404 in the error shape, not a bare redirect
        redirect_slashes=False,
    )
    token_check = TokenCheck(storage, client_factory, clock_us, round(auth_cache_s * MICROS))
    app.state.token_check = token_check
    app.include_router(router)

    def who_is(token: Secret) -> str:
        try:
            return token_check.caller(token, keep=False).customer_id
        except BridgeApiError as refused:
            raise LoginRefusedError(refused.message) from None

    app.mount(CONSOLE, console_app(storage, who_is=who_is, clock_us=clock_us))

    @app.get(CONSOLE, include_in_schema=False)
    def console_home() -> RedirectResponse:
        """``/console`` is the console's home, ``/console/``."""
        return RedirectResponse(CONSOLE + "/", status_code=308)

    def allowed_methods(path: str) -> list[str]:
        methods: set[str] = set()
        for route in router.routes:
            if isinstance(route, APIRoute) and route.path_regex.match(path):
                methods |= route.methods or set()
        return sorted(methods)

    async def on_api_error(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, BridgeApiError)
        return error_response(
            exc.status,
            exc.message,
            param=exc.param,
            error_type=exc.error_type,
            headers=exc.headers,
        )

    async def on_validation_error(_: Request, exc: Exception) -> JSONResponse:
        """FastAPI's list of problems becomes one error naming the first bad field; inputs are
        never quoted (one may be a secret)."""
        assert isinstance(exc, RequestValidationError)
        problems = exc.errors()
        first = problems[0] if problems else {}
        if first.get("type") == "json_invalid":
            return error_response(400, "the request body is not valid JSON")
        location = [str(p) for p in first.get("loc", ()) if p not in ("body", "query", "path")]
        param = ".".join(location) or None
        message = str(first.get("msg", "invalid request")).removeprefix("Value error, ")
        return error_response(422, f"{param}: {message}" if param else message, param=param)

    async def on_http_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        status = exc.status_code
        headers = dict(exc.headers or {})
        if status == 404:
            message = "no such endpoint"
            path = request.url.path
            if len(path) > 1 and path.endswith("/"):
                message += " (paths of the API do not end in '/')"
        elif status == 405:
            allowed = allowed_methods(request.url.path)
            headers["Allow"] = ", ".join(allowed)
            message = f"{request.method} is not allowed here; use {', '.join(allowed)}"
        else:
            message = str(exc.detail)
        return error_response(status, message, headers=headers)

    async def on_unexpected(_: Request, exc: Exception) -> JSONResponse:
        return error_response(500, "internal error in the bridge")

    app.add_exception_handler(BridgeApiError, on_api_error)
    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(StarletteHTTPException, on_http_error)
    app.add_exception_handler(Exception, on_unexpected)

    spec = _build_spec(app, sorted(events))
    app.openapi = lambda: spec  # type: ignore[method-assign]
    return app


def _build_spec(app: FastAPI, events: list[str]) -> dict[str, Any]:
    """FastAPI's document, with the events listed where one is named, and no ``null`` option on
    query parameters (an absent parameter is how a client says "none")."""
    spec = get_openapi(
        title=TITLE,
        version=VERSION,
        openapi_version="3.1.0",
        description=SUMMARY,
        routes=app.routes,
    )
    spec["security"] = [{"HTTPBearer": []}]
    schemas = spec.get("components", {}).get("schemas", {})
    if events and "SubscriptionIn" in schemas:
        schemas["SubscriptionIn"]["properties"]["event"]["enum"] = events
    for methods in spec["paths"].values():
        for operation in methods.values():
            for parameter in operation.get("parameters", []):
                schema = parameter["schema"]
                if events and parameter["in"] == "path" and parameter["name"] == "event":
                    schema["enum"] = events
                options = [o for o in schema.get("anyOf", []) if o.get("type") != "null"]
                if len(options) == 1 and len(schema["anyOf"]) == 2:
                    del schema["anyOf"]
                    schema.update(options[0])
    return spec
