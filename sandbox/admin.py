"""The simulation API under ``/_sandbox/``: make real situations happen on purpose.

Guarded by the admin token and left out of the public contract. Tests and benchmarks use it to
add verdicts (late ones too), generate traffic, arm faults, issue and revoke tokens, count the
requests a connector spent, move the clock and reset everything.
"""

from __future__ import annotations

import hmac
import random
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from api_client.contract import MICROS
from sandbox import schemas as s
from sandbox.errors import ApiError
from sandbox.faults import Fault, FaultKind
from sandbox.generator import make_verdict
from sandbox.seed import new_customer_with_token, seed_customer
from sandbox.state import SandboxState
from sandbox.store import PageQuery
from sandbox.timefmt import format_us, parse_to_us
from sandbox.tokens import new_id


def admin_state(request: Request) -> SandboxState:
    state: SandboxState = request.app.state.sandbox
    raw = request.headers.get("authorization", "")
    scheme, _, presented = raw.partition(" ")
    expected = state.settings.admin_token
    if scheme.lower() != "bearer" or not hmac.compare_digest(
        presented.strip().encode(), expected.encode()
    ):
        raise ApiError(401, "the simulation API needs 'Authorization: Bearer <admin token>'")
    return state


Admin = Annotated[SandboxState, Depends(admin_state)]
router = APIRouter(prefix="/_sandbox", include_in_schema=False)


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class VerdictIn(Body):
    id: str | None = None
    message_id: str | None = None
    domain: str
    sender: str = "someone@example.net"
    recipient: str | None = None
    subject: str = "(no subject)"
    verdict: s.VerdictType = s.VerdictType.clean
    score: float = Field(default=1.0, ge=0, le=100)
    action: s.VerdictAction | None = None
    scanned_at: str | None = Field(default=None, description="Default: the sandbox's now.")
    visible_after_seconds: float = Field(
        default=0.0, ge=0, description="Visible this long after scanned_at (late arrival)."
    )


class VerdictsIn(Body):
    customer_id: str | None = Field(default=None, description="Default: the first customer.")
    verdicts: list[VerdictIn] = Field(min_length=1, max_length=100_000)


class TrafficIn(Body):
    customer_id: str | None = None
    count: int = Field(ge=1, le=500_000)
    domains: list[str] | None = Field(default=None, description="Default: the customer's.")
    scanned_at: str | None = Field(default=None, description="One timestamp for all (ties).")
    spread_seconds: float = Field(default=0.0, ge=0, description="Spread over [now - s, now].")
    visible_after_seconds: float = Field(default=0.0, ge=0)
    seed: int | None = None


class FaultIn(Body):
    kind: FaultKind = FaultKind.status
    count: int = Field(default=1, ge=1, le=10_000)
    status: int = Field(default=503, description="For kind=status: 429, 500, 502, 503 or 504.")
    delay_seconds: float = Field(default=0.0, ge=0, le=120)
    retry_after: int = Field(default=1, ge=0, le=86_400)
    method: str | None = None
    path_prefix: str = "/api/v1/"
    token_id: str | None = None


class TokenIn(Body):
    customer_id: str | None = Field(default=None, description="Default: a new customer.")
    customer_name: str = "Sandbox customer"


class ClockIn(Body):
    advance_seconds: float = Field(gt=0, le=10 * 365 * 86_400)


def _customer(state: SandboxState, customer_id: str | None) -> str:
    if customer_id is None:
        ids = state.store.customer_ids()
        if not ids:
            raise ApiError(404, "there is no customer yet; issue a token first")
        return ids[0]
    if state.store.customer(customer_id) is None:
        raise ApiError(404, f"no customer {customer_id!r}", param="customer_id")
    return customer_id


def _time(text: str | None, default: int, param: str) -> int:
    if text is None:
        return default
    try:
        return parse_to_us(text)
    except ValueError as exc:
        raise ApiError(422, f"{param}: {exc}", param=param) from exc


@router.post("/verdicts", status_code=201)
def add_verdicts(state: Admin, body: VerdictsIn) -> dict[str, Any]:
    customer_id = _customer(state, body.customer_id)
    now = state.clock.now_us()
    rows: list[dict[str, Any]] = []
    for index, v in enumerate(body.verdicts):
        scanned = _time(v.scanned_at, now, f"verdicts.{index}.scanned_at")
        action = v.action or ("quarantined" if v.verdict.value != "clean" else "delivered")
        rows.append(
            {
                "id": v.id or new_id("vrd"),
                "message_id": v.message_id or f"<{new_id('msg')}@sandbox.local>",
                "domain": v.domain,
                "sender": v.sender,
                "recipient": v.recipient or f"user@{v.domain}",
                "subject": v.subject,
                "verdict": v.verdict.value,
                "score": v.score,
                "action": getattr(action, "value", action),
                "scanned_at": scanned,
                "visible_at": scanned + int(v.visible_after_seconds * MICROS),
            }
        )
    state.store.insert_verdicts(customer_id, rows)
    return {
        "created": len(rows),
        "verdicts": [
            {
                "id": r["id"],
                "scanned_at": format_us(r["scanned_at"]),
                "visible_at": format_us(r["visible_at"]),
            }
            for r in rows
        ],
    }


@router.post("/traffic", status_code=201)
def traffic(state: Admin, body: TrafficIn) -> dict[str, Any]:
    customer_id = _customer(state, body.customer_id)
    now = state.clock.now_us()
    domains = body.domains or [
        d["domain"] for d in state.store.list_domains(customer_id, _all_domains()).rows
    ]
    if not domains:
        raise ApiError(422, "the customer has no domains; pass 'domains'", param="domains")
    rng = random.Random(body.seed)
    fixed = _time(body.scanned_at, now, "scanned_at") if body.scanned_at else None
    spread = int(body.spread_seconds * MICROS)
    rules = state.store.all_rules(customer_id)
    late = int(body.visible_after_seconds * MICROS)
    made = []
    for _ in range(body.count):
        scanned = fixed if fixed is not None else now - (rng.randint(0, spread) if spread else 0)
        verdict = make_verdict(rng, domains, scanned, rules)
        verdict["visible_at"] = scanned + late
        made.append(verdict)
    state.store.insert_verdicts(customer_id, made)
    times = [v["scanned_at"] for v in made]
    return {
        "created": len(made),
        "first_scanned_at": format_us(min(times)),
        "last_scanned_at": format_us(max(times)),
        "quarantined": sum(v["action"] == "quarantined" for v in made),
    }


def _all_domains() -> PageQuery:
    return PageQuery(limit=10_000, order="asc")


@router.post("/faults", status_code=201)
def arm_fault(state: Admin, body: FaultIn) -> dict[str, Any]:
    if body.kind is FaultKind.status and body.status not in (429, 500, 502, 503, 504):
        raise ApiError(422, "status: one of 429, 500, 502, 503, 504", param="status")
    state.faults.arm(
        Fault(
            kind=body.kind,
            remaining=body.count,
            status=body.status,
            delay_seconds=body.delay_seconds,
            retry_after=body.retry_after,
            method=body.method.upper() if body.method else None,
            path_prefix=body.path_prefix,
            token_id=body.token_id,
        )
    )
    return {"armed": body.count, "pending": state.faults.pending()}


@router.delete("/faults", status_code=204)
def clear_faults(state: Admin) -> Response:
    state.faults.clear()
    return Response(status_code=204)


@router.post("/tokens", status_code=201)
def issue_token(state: Admin, body: TokenIn) -> dict[str, Any]:
    now = state.clock.now_us()
    if body.customer_id is None:
        customer_id, token_id, token = new_customer_with_token(state.store, body.customer_name, now)
    else:
        customer_id = _customer(state, body.customer_id)
        record, token = state.store.issue_token(customer_id, now)
        token_id = record.id
    return {"id": token_id, "token": token, "customer_id": customer_id}


@router.delete("/tokens/{token_id}", status_code=204)
def revoke_token(state: Admin, token_id: str) -> Response:
    if not state.store.revoke_token(token_id, state.clock.now_us()):
        raise ApiError(404, f"no live token {token_id!r}", param="token_id")
    state.limiter.forget(token_id)
    return Response(status_code=204)


@router.get("/requests")
def requests_served(state: Admin) -> dict[str, Any]:
    return state.requests.snapshot()


@router.delete("/requests", status_code=204)
def clear_requests(state: Admin) -> Response:
    state.requests.clear()
    return Response(status_code=204)


@router.post("/clock")
def advance_clock(state: Admin, body: ClockIn) -> dict[str, Any]:
    return {"now": format_us(state.clock.advance(body.advance_seconds))}


@router.get("/clock")
def read_clock(state: Admin) -> dict[str, Any]:
    return {"now": format_us(state.clock.now_us())}


@router.post("/reset")
def reset(state: Admin) -> dict[str, Any]:
    """Back to the state at start: the first customer with its token, seeded as configured."""
    state.store.reset()
    state.faults.clear()
    state.requests.clear()
    state.limiter.clear()
    settings = state.settings
    customer_id = seed_customer(
        state.store,
        settings.token,
        state.clock.now_us(),
        settings.seed == "demo",
        random.Random(settings.seed_random),
    )
    return {"customer_id": customer_id, "seed": settings.seed}
