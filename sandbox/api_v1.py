"""The public MxGuard API v1 endpoints, as the contract describes them."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, Response, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api_client.contract import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE
from sandbox import schemas as s
from sandbox.errors import ApiError, shown
from sandbox.state import SandboxState
from sandbox.store import ConflictError, Page, PageQuery, TokenRecord
from sandbox.timefmt import EARLIEST_US, format_us, parse_to_us
from sandbox.validation import CURSOR, HOSTNAME, normal_host, normal_pattern

bearer = HTTPBearer(auto_error=False, description="`Authorization: Bearer mxg_live_…`")


def _error(description: str) -> dict[str, Any]:
    return {"model": s.ErrorBody, "description": description}


COMMON: dict[int | str, dict[str, Any]] = {
    400: _error("Malformed request: a body that is not JSON, a bad timestamp or cursor."),
    401: _error("Missing, malformed, unknown or revoked token."),
    422: _error("Invalid input; `error.param` names the field."),
    429: _error("Rate limit exceeded; wait `Retry-After` seconds."),
}
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: _error("Unknown, or not this customer's.")}
CONFLICT: dict[int | str, dict[str, Any]] = {409: _error("Conflicts with the current state.")}

router = APIRouter(prefix="/api/v1", responses=COMMON)


def sandbox_state(request: Request) -> SandboxState:
    state: SandboxState = request.app.state.sandbox
    return state


def caller(
    request: Request,
    _: Annotated[HTTPAuthorizationCredentials | None, Security(bearer)],
) -> TokenRecord:
    """The authenticated token (the gateway middleware has already looked it up)."""
    token: TokenRecord | None = request.state.token
    if token is None:
        raise ApiError(401, request.state.auth_problem or "authentication required")
    return token


State = Annotated[SandboxState, Depends(sandbox_state)]
Caller = Annotated[TokenRecord, Depends(caller)]
Limit = Annotated[
    int,
    Query(
        ge=1,
        le=MAX_PAGE_SIZE,
        description=f"Page size (default {DEFAULT_PAGE_SIZE}, at most {MAX_PAGE_SIZE}).",
    ),
]
CursorParam = Annotated[
    str | None,
    Query(
        pattern=CURSOR,
        description="Opaque `next_cursor` of the previous page; repeat the filters with it.",
    ),
]
OrderParam = Annotated[s.SortOrder, Query(description="By time then id; default newest first.")]
SinceParam = Annotated[
    str | None,
    Query(
        description="Inclusive lower bound (RFC 3339).", json_schema_extra={"format": "date-time"}
    ),
]
UntilParam = Annotated[
    str | None,
    Query(
        description="Exclusive upper bound (RFC 3339).", json_schema_extra={"format": "date-time"}
    ),
]
DomainFilter = Annotated[
    str | None, Query(max_length=253, pattern=HOSTNAME, description="Only this domain.")
]
DomainPath = Annotated[
    str, Path(max_length=253, pattern=HOSTNAME, description="The domain name (punycode for IDNs).")
]


def _time(value: str | None, param: str) -> int | None:
    if value is None:
        return None
    try:
        return parse_to_us(value)
    except ValueError as exc:
        # the parser's message quotes the value whole; a long one is quoted cut short instead
        detail = str(exc) if len(value) <= 100 else f"{shown(value)} is not one"
        raise ApiError(400, f"{param}: not an RFC 3339 timestamp ({detail})", param=param) from exc


def encode_cursor(key: tuple[int, str]) -> str:
    return f"{key[0]}.{key[1]}"


def decode_cursor(cursor: str | None) -> tuple[int, str] | None:
    """The endpoint's ``pattern`` has already checked the form ``<microseconds>.<id>``."""
    if cursor is None:
        return None
    stamp, _, object_id = cursor.partition(".")
    return int(stamp), object_id


def page_query(
    limit: int, cursor: str | None, order: s.SortOrder, since: str | None, until: str | None
) -> PageQuery:
    return PageQuery(
        limit=limit,
        order=order.value,
        after=decode_cursor(cursor),
        since=_time(since, "since"),
        until=_time(until, "until"),
    )


def envelope(page: Page) -> dict[str, Any]:
    cursor = encode_cursor(page.last_key) if page.has_more and page.last_key else None
    return {"data": page.rows, "has_more": page.has_more, "next_cursor": cursor}


def _own_domain(state: SandboxState, token: TokenRecord, domain: str) -> dict[str, Any]:
    found = state.store.get_domain(token.customer_id, normal_host(domain))
    if found is None:
        raise ApiError(404, f"no domain {shown(domain)} on this account", param="domain")
    return found


@router.get("/me", response_model=s.Account, summary="Verify the token; account information")
def me(state: State, token: Caller) -> dict[str, Any]:
    customer = state.store.customer(token.customer_id)
    assert customer is not None
    return {
        "id": customer["id"],
        "name": customer["name"],
        "plan": customer["plan"],
        "created_at": format_us(customer["created_at"]),
        "token": {
            "id": token.id,
            "prefix": token.prefix + "…",
            "created_at": format_us(token.created_at),
        },
        "rate_limits": {
            "per_minute": state.settings.rate_per_minute,
            "per_hour": state.settings.rate_per_hour,
        },
    }


@router.get("/domains", response_model=s.DomainList, summary="List domains")
def list_domains(
    state: State,
    token: Caller,
    limit: Limit = DEFAULT_PAGE_SIZE,
    cursor: CursorParam = None,
    order: OrderParam = s.SortOrder.desc,
    since: SinceParam = None,
    until: UntilParam = None,
) -> dict[str, Any]:
    query = page_query(limit, cursor, order, since, until)
    return envelope(state.store.list_domains(token.customer_id, query))


@router.post(
    "/domains",
    status_code=201,
    response_model=s.Domain,
    summary="Add a domain",
    responses=CONFLICT,
)
def add_domain(state: State, token: Caller, body: s.DomainCreate) -> dict[str, Any]:
    domain, mx_host = normal_host(body.domain), normal_host(body.real_mx_host)
    try:
        return state.store.add_domain(token.customer_id, domain, mx_host, state.clock.now_us())
    except ConflictError as exc:
        raise ApiError(409, str(exc), param="domain") from exc


@router.get(
    "/domains/{domain}", response_model=s.Domain, summary="Get a domain", responses=NOT_FOUND
)
def get_domain(state: State, token: Caller, domain: DomainPath) -> dict[str, Any]:
    return _own_domain(state, token, domain)


@router.patch(
    "/domains/{domain}", response_model=s.Domain, summary="Update a domain", responses=NOT_FOUND
)
def update_domain(
    state: State, token: Caller, domain: DomainPath, body: s.DomainUpdate
) -> dict[str, Any]:
    name = _own_domain(state, token, domain)["domain"]
    mx_host = normal_host(body.real_mx_host)
    updated = state.store.update_domain(token.customer_id, name, mx_host, state.clock.now_us())
    assert updated is not None
    return updated


@router.delete(
    "/domains/{domain}",
    status_code=204,
    summary="Remove a domain and its sender rules",
    responses=NOT_FOUND,
)
def remove_domain(state: State, token: Caller, domain: DomainPath) -> Response:
    name = _own_domain(state, token, domain)["domain"]
    state.store.delete_domain(token.customer_id, name)
    return Response(status_code=204)


@router.get(
    "/domains/{domain}/sender-rules",
    response_model=s.SenderRuleList,
    summary="List a domain's sender rules",
    responses=NOT_FOUND,
)
def list_sender_rules(
    state: State,
    token: Caller,
    domain: DomainPath,
    limit: Limit = DEFAULT_PAGE_SIZE,
    cursor: CursorParam = None,
    order: OrderParam = s.SortOrder.desc,
) -> dict[str, Any]:
    name = _own_domain(state, token, domain)["domain"]
    query = page_query(limit, cursor, order, None, None)
    return envelope(state.store.list_rules(token.customer_id, name, query))


@router.post(
    "/domains/{domain}/sender-rules",
    status_code=201,
    response_model=s.SenderRule,
    summary="Add a sender rule (allow or block)",
    responses={**NOT_FOUND, **CONFLICT},
)
def add_sender_rule(
    state: State, token: Caller, domain: DomainPath, body: s.SenderRuleCreate
) -> dict[str, Any]:
    name = _own_domain(state, token, domain)["domain"]
    pattern = normal_pattern(body.pattern)
    try:
        return state.store.add_rule(
            token.customer_id, name, pattern, body.action.value, body.note, state.clock.now_us()
        )
    except ConflictError as exc:
        raise ApiError(409, str(exc), param="pattern") from exc


@router.delete(
    "/domains/{domain}/sender-rules/{rule_id}",
    status_code=204,
    summary="Remove a sender rule",
    responses=NOT_FOUND,
)
def remove_sender_rule(state: State, token: Caller, domain: DomainPath, rule_id: str) -> Response:
    name = _own_domain(state, token, domain)["domain"]
    if not state.store.delete_rule(token.customer_id, name, rule_id):
        raise ApiError(404, f"no sender rule {shown(rule_id)} on {name}", param="rule_id")
    return Response(status_code=204)


@router.get("/verdicts", response_model=s.VerdictList, summary="List recent verdicts")
def list_verdicts(
    state: State,
    token: Caller,
    domain: DomainFilter = None,
    verdict: Annotated[list[s.VerdictType] | None, Query(description="Repeatable.")] = None,
    action: Annotated[list[s.VerdictAction] | None, Query(description="Repeatable.")] = None,
    since: SinceParam = None,
    until: UntilParam = None,
    order: OrderParam = s.SortOrder.desc,
    limit: Limit = DEFAULT_PAGE_SIZE,
    cursor: CursorParam = None,
) -> dict[str, Any]:
    query = page_query(limit, cursor, order, since, until)
    page = state.store.list_verdicts(
        token.customer_id,
        query,
        state.clock.now_us(),
        normal_host(domain) if domain else None,
        [v.value for v in verdict or []],
        [a.value for a in action or []],
    )
    return envelope(page)


@router.get(
    "/verdicts/{verdict_id}",
    response_model=s.Verdict,
    summary="Get a verdict",
    responses=NOT_FOUND,
)
def get_verdict(state: State, token: Caller, verdict_id: str) -> dict[str, Any]:
    found = state.store.get_verdict(token.customer_id, verdict_id, state.clock.now_us())
    if found is None:
        raise ApiError(404, f"no verdict {shown(verdict_id)}", param="verdict_id")
    return found


@router.get("/quarantine", response_model=s.QuarantineList, summary="List quarantined messages")
def list_quarantine(
    state: State,
    token: Caller,
    domain: DomainFilter = None,
    status: Annotated[list[s.QuarantineStatus] | None, Query(description="Repeatable.")] = None,
    since: SinceParam = None,
    until: UntilParam = None,
    order: OrderParam = s.SortOrder.desc,
    limit: Limit = DEFAULT_PAGE_SIZE,
    cursor: CursorParam = None,
) -> dict[str, Any]:
    query = page_query(limit, cursor, order, since, until)
    page = state.store.list_quarantine(
        token.customer_id,
        query,
        state.clock.now_us(),
        normal_host(domain) if domain else None,
        [x.value for x in status or []],
    )
    return envelope(page)


def _held(state: SandboxState, token: TokenRecord, message_id: str) -> dict[str, Any]:
    found = state.store.get_quarantined(token.customer_id, message_id, state.clock.now_us())
    if found is None:
        raise ApiError(404, f"no quarantined message {shown(message_id)}", param="message_id")
    return found


@router.get(
    "/quarantine/{message_id}",
    response_model=s.QuarantinedMessage,
    summary="Get a quarantined message",
    responses=NOT_FOUND,
)
def get_quarantined(state: State, token: Caller, message_id: str) -> dict[str, Any]:
    return _held(state, token, message_id)


def _transition(
    state: SandboxState, token: TokenRecord, message_id: str, target: str, allowed: set[str]
) -> dict[str, Any]:
    message = _held(state, token, message_id)
    if message["status"] not in allowed:
        raise ApiError(
            409,
            f"the message is already {message['status']}",
            error_type="conflict",
            param="message_id",
        )
    state.store.set_quarantine_status(message["id"], target, state.clock.now_us())
    return _held(state, token, message_id)


@router.post(
    "/quarantine/{message_id}/release",
    response_model=s.QuarantinedMessage,
    summary="Release a held message to its recipient",
    responses={**NOT_FOUND, **CONFLICT},
)
def release(state: State, token: Caller, message_id: str) -> dict[str, Any]:
    return _transition(state, token, message_id, "released", {"held"})


@router.post(
    "/quarantine/{message_id}/report-spam",
    response_model=s.QuarantinedMessage,
    summary="Report a message as spam (trains the filter)",
    responses={**NOT_FOUND, **CONFLICT},
)
def report_spam(state: State, token: Caller, message_id: str) -> dict[str, Any]:
    return _transition(state, token, message_id, "reported", {"held", "released"})


@router.get("/stats", response_model=s.Stats, summary="Account statistics")
def stats(
    state: State,
    token: Caller,
    since: SinceParam = None,
    until: UntilParam = None,
    domain: DomainFilter = None,
) -> dict[str, Any]:
    now = state.clock.now_us()
    end = _time(until, "until")
    end = now if end is None else end
    start = _time(since, "since")
    start = max(end - 86_400_000_000, EARLIEST_US) if start is None else start
    name = normal_host(domain) if domain else None
    counts = state.store.stats(token.customer_id, start, end, now, name)
    scanned = sum(counts["by_verdict"].values())
    quarantined = counts["by_action"].get("quarantined", 0)
    return {
        "since": format_us(start),
        "until": format_us(end),
        "domain": name,
        "messages_scanned": scanned,
        "by_verdict": {v.value: counts["by_verdict"].get(v.value, 0) for v in s.VerdictType},
        "by_action": {a.value: counts["by_action"].get(a.value, 0) for a in s.VerdictAction},
        "quarantined": quarantined,
        "quarantine_rate": round(quarantined / scanned, 6) if scanned else 0.0,
        "quarantine_held": counts["held"],
        "domains": state.store.count_domains(token.customer_id),
    }
