"""MxGuard's ``GET /api/v1/verdicts`` and ``GET /api/v1/me`` in-process, on a simulated clock.

Why not the sandbox: its clock is the wall clock (plus an offset), so replaying an hour of traffic
against it takes an hour, and its SQLite store would make the 216,000 verdicts of an hour at 60/s
slow to insert and page through. Here time moves only when a request is served (``PAGE_SECONDS``,
0.2 s a page) or when the client sleeps (``sleep``), so an hour replays in seconds, identically
for every contender.

Why a ``requests`` transport adapter: the real ``api_client.MxGuardClient`` (its rate limiter,
retries on 429, error mapping, pydantic models) runs unchanged on top of it; only the socket is
replaced. Mount it with ``SimulatedApi.session()``.

The rules are the sandbox's (``sandbox/api_v1.py``, ``sandbox/store.py``, ``sandbox/gateway.py``):

* keyset pages ordered by ``(scanned_at, id)``, ascending or descending (the default);
  ``since`` inclusive, ``until`` exclusive; ``limit`` from 1 to 500 (default 50);
* ``cursor`` is the ``<µs>.<id>`` of the last item returned, opaque to clients; ``has_more`` is
  exact (one row past the page is looked at) and ``next_cursor`` is set only when it is true;
* only the items visible at the instant the page is read (``visible_at <= now``) are listed;
* per token, 60 requests per rolling minute and 600 per rolling hour (``SlidingWindowLimiter``,
  the sandbox's own class), answered by 429 with ``Retry-After``; every answer carries
  ``X-RateLimit-Limit/Remaining/Reset`` and ``X-Request-Id``; every request is counted, 401s and
  429s included.

The ``domain``, ``verdict`` and ``action`` filters are accepted and ignored: the stream benchmark
uses none, and ignoring them keeps a page a bisect plus a short scan.
"""

from __future__ import annotations

import json
import re
from bisect import bisect_left, bisect_right
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple
from urllib.parse import parse_qs, urlsplit

import requests
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict

from api_client.contract import (
    DEFAULT_PAGE_SIZE,
    DEFAULT_PER_HOUR,
    DEFAULT_PER_MINUTE,
    MAX_PAGE_SIZE,
    MICROS,
)
from sandbox.ratelimit import HOUR, SlidingWindowLimiter
from sandbox.timefmt import format_us, parse_to_us
from sandbox.tokens import looks_like_token
from sandbox.validation import CURSOR

BASE_URL = "http://simulated.mxguard.test"
PAGE_SECONDS = 0.2
"""Simulated time one request takes, from sending it to having read the answer."""
CURSOR_PATTERN = re.compile(CURSOR)
REASONS = {
    200: "OK",
    400: "Bad Request",
    401: "Unauthorized",
    404: "Not Found",
    405: "Method Not Allowed",
    422: "Unprocessable Entity",
    429: "Too Many Requests",
}
ERROR_TYPES = {
    400: "invalid_request",
    401: "authentication_failed",
    404: "not_found",
    405: "invalid_request",
    422: "invalid_request",
    429: "rate_limited",
}


class SimVerdict(NamedTuple):
    """One verdict of a stream: what the API shows of it, and when it becomes visible.

    A NamedTuple, not a model: an hour at 83/s is 300,000 of them, built once per stream.
    """

    id: str
    scanned_us: int
    visible_us: int
    """When the API starts listing it (``>= scanned_us``; late arrival when much later)."""
    message_id: str
    domain: str
    sender: str
    recipient: str
    subject: str
    verdict: str
    score: float
    action: str


class VerdictLog:
    """A stream's verdicts sorted by ``(scanned_at, id)``: immutable, shared by every replay.

    Each item's JSON is rendered once, on first use, and reused by every page and every
    contender that lists it: the benchmark measures the client, not ``json.dumps``.
    """

    def __init__(self, verdicts: Iterable[SimVerdict]) -> None:
        self.items: list[SimVerdict] = sorted(verdicts, key=lambda v: (v.scanned_us, v.id))
        self.keys: list[tuple[int, str]] = [(v.scanned_us, v.id) for v in self.items]
        self.visible: list[int] = [v.visible_us for v in self.items]
        self._json: list[str | None] = [None] * len(self.items)

    def __len__(self) -> int:
        return len(self.items)

    def rendered(self, index: int) -> str:
        """The item as the API sends it (``api_client.models.Verdict``)."""
        text = self._json[index]
        if text is None:
            v = self.items[index]
            text = json.dumps(
                {
                    "id": v.id,
                    "message_id": v.message_id,
                    "domain": v.domain,
                    "sender": v.sender,
                    "recipient": v.recipient,
                    "subject": v.subject,
                    "verdict": v.verdict,
                    "score": v.score,
                    "action": v.action,
                    "scanned_at": format_us(v.scanned_us),
                },
                separators=(",", ":"),
            )
            self._json[index] = text
        return text

    def page(
        self,
        now_us: int,
        *,
        limit: int,
        ascending: bool,
        after: tuple[int, str] | None = None,
        since: int | None = None,
        until: int | None = None,
    ) -> tuple[list[int], bool]:
        """Indexes of one page of the items visible at ``now_us``, and ``has_more``.

        Bisect to the bounds, then scan, skipping items not yet visible. The scan stays short:
        nothing scanned after ``now`` can be visible (``visible_at >= scanned_at``), so only the
        last couple of minutes hold invisible items, and late ones are few.
        """
        keys, visible = self.keys, self.visible
        low = 0 if since is None else bisect_left(keys, (since,))
        top = now_us + 1 if until is None else min(until, now_us + 1)
        high = bisect_left(keys, (top,))
        found: list[int] = []
        if ascending:
            if after is not None:
                low = max(low, bisect_right(keys, after))
            index = low
            while index < high and len(found) <= limit:
                if visible[index] <= now_us:
                    found.append(index)
                index += 1
        else:
            if after is not None:
                high = min(high, bisect_left(keys, after))
            index = high - 1
            while index >= low and len(found) <= limit:
                if visible[index] <= now_us:
                    found.append(index)
                index -= 1
        return found[:limit], len(found) > limit


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes
    headers: dict[str, str]


class SimulatedApiError(Exception):
    """An error answer in the contract's body (``{"error": {type, message, param}}``)."""

    def __init__(self, status: int, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.param = param

    def body(self) -> bytes:
        kind = ERROR_TYPES.get(self.status, "server_error")
        error = {"type": kind, "message": self.message, "param": self.param}
        return json.dumps({"error": error}).encode()


class SimulatedApi:
    """One MxGuard account holding ``log``, its tokens, its rate limits and its own clock.

    The clock is integer microseconds (Unix time), so 0.2 s steps never drift; ``time`` and
    ``sleep`` are what ``MxGuardClient(clock=..., sleep=...)`` takes.
    """

    def __init__(
        self,
        log: VerdictLog,
        *,
        start_us: int,
        tokens: Sequence[str],
        per_minute: int = DEFAULT_PER_MINUTE,
        per_hour: int = DEFAULT_PER_HOUR,
        page_seconds: float = PAGE_SECONDS,
        account_name: str = "Simulated stream",
    ) -> None:
        bad = [t[:13] for t in tokens if not looks_like_token(t)]
        if bad:
            raise ValueError(f"not MxGuard tokens: {bad}")
        self.log = log
        self._now_us = start_us
        self._created_us = start_us - 86_400 * MICROS
        self._tokens = {token: f"tok_sim{index:017d}" for index, token in enumerate(tokens)}
        self._page_us = round(page_seconds * MICROS)
        self.per_minute = per_minute
        self.per_hour = per_hour
        self.limiter = SlidingWindowLimiter(per_minute, per_hour)
        self.account_name = account_name
        self.served: Counter[str] = Counter()
        """Requests served per key (a token's id, or ``anonymous``), 401s and 429s included."""
        self.rejected: Counter[str] = Counter()
        """429 answers per key."""
        self.served_at: list[int] = []
        """When each request was served (µs), in order: for the busiest rolling hour."""

    # the clock ------------------------------------------------------------------------------
    def now_us(self) -> int:
        return self._now_us

    def time(self) -> float:
        """Unix seconds, as ``MxGuardClient(clock=...)`` wants."""
        return self._now_us / MICROS

    def sleep(self, seconds: float) -> None:
        """What the client's waits cost: simulated time only."""
        if seconds > 0:
            self._now_us += round(seconds * MICROS)

    def advance_to(self, when_us: int) -> None:
        """Move to ``when_us`` (a scheduled poll); never backwards."""
        self._now_us = max(self._now_us, when_us)

    # counting ---------------------------------------------------------------------------------
    def requests_served(self) -> int:
        return sum(self.served.values())

    def busiest_hour(self) -> int:
        """Most requests served in any rolling hour (the window MxGuard's 600/h applies to)."""
        times, window = self.served_at, int(HOUR * MICROS)
        most = first = 0
        for last, stamp in enumerate(times):
            while stamp - times[first] >= window:
                first += 1
            most = max(most, last - first + 1)
        return most

    # transport ------------------------------------------------------------------------------
    def session(self) -> requests.Session:
        """A ``requests.Session`` whose requests to ``BASE_URL`` this API answers."""
        session = requests.Session()
        session.trust_env = False  # no proxy or .netrc from the environment
        session.mount(BASE_URL + "/", SimulatedAdapter(self))
        return session

    def handle(self, method: str, url: str, headers: Mapping[str, str]) -> Answer:
        """Serve one request at ``now``, then let the page's 0.2 s pass."""
        now_us = self._now_us
        token = self._token_of(headers)
        key = self._tokens.get(token, "anonymous") if token else "anonymous"
        decision = self.limiter.hit(key, now_us / MICROS)
        self.served[key] += 1
        self.served_at.append(now_us)
        sent = {
            "Content-Type": "application/json",
            "X-RateLimit-Limit": str(decision.limit),
            "X-RateLimit-Remaining": str(decision.remaining),
            "X-RateLimit-Reset": str(decision.reset_at),
            "X-Request-Id": f"req_sim{len(self.served_at):017d}",
        }
        try:
            if not decision.allowed:
                self.rejected[key] += 1
                sent["Retry-After"] = str(decision.retry_after)
                wait = decision.retry_after
                raise SimulatedApiError(429, f"rate limit exceeded; retry after {wait} s")
            if token is None or token not in self._tokens:
                sent["WWW-Authenticate"] = "Bearer"
                raise SimulatedApiError(401, "the token is missing, malformed or unknown")
            parts = urlsplit(url)
            body = self._route(method, parts.path, parse_qs(parts.query), token, now_us)
            status = 200
        except SimulatedApiError as problem:
            status, body = problem.status, problem.body()
        self._now_us += self._page_us
        return Answer(status, body, sent)

    @staticmethod
    def _token_of(headers: Mapping[str, str]) -> str | None:
        scheme, _, credentials = headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer":
            return None
        return credentials.strip() or None

    def _route(
        self, method: str, path: str, query: dict[str, list[str]], token: str, now_us: int
    ) -> bytes:
        if path not in ("/api/v1/verdicts", "/api/v1/me"):
            raise SimulatedApiError(404, "no such endpoint (only /verdicts and /me here)")
        if method != "GET":
            raise SimulatedApiError(405, f"{method} is not allowed here; use GET")
        if path == "/api/v1/me":
            return json.dumps(self._account(token)).encode()
        return self._verdicts(query, now_us)

    def _account(self, token: str) -> dict[str, Any]:
        """The shape of the sandbox's ``/me`` (``sandbox.schemas.Account``)."""
        return {
            "id": "cus_sim000000000000000000",
            "name": self.account_name,
            "plan": "business",
            "created_at": format_us(self._created_us),
            "token": {
                "id": self._tokens[token],
                "prefix": token[:13] + "…",
                "created_at": format_us(self._created_us),
            },
            "rate_limits": {"per_minute": self.per_minute, "per_hour": self.per_hour},
        }

    def _verdicts(self, query: dict[str, list[str]], now_us: int) -> bytes:
        limit = _limit(_one(query, "limit"))
        order = _one(query, "order") or "desc"
        if order not in ("asc", "desc"):
            raise SimulatedApiError(422, f"order: {order!r} is not one of 'asc', 'desc'", "order")
        page, has_more = self.log.page(
            now_us,
            limit=limit,
            ascending=order == "asc",
            after=_cursor(_one(query, "cursor")),
            since=_time(_one(query, "since"), "since"),
            until=_time(_one(query, "until"), "until"),
        )
        rendered = self.log.rendered
        cursor = "null"
        if has_more and page:
            last = self.log.keys[page[-1]]
            cursor = json.dumps(f"{last[0]}.{last[1]}")
        data = ",".join(rendered(i) for i in page)
        more = "true" if has_more else "false"
        return f'{{"data":[{data}],"has_more":{more},"next_cursor":{cursor}}}'.encode()


def _one(query: dict[str, list[str]], name: str) -> str | None:
    values = query.get(name)
    return values[-1] if values else None


def _limit(value: str | None) -> int:
    if value is None:
        return DEFAULT_PAGE_SIZE
    try:
        limit = int(value)
    except ValueError:
        raise SimulatedApiError(422, f"limit: {value!r} is not an integer", "limit") from None
    if not 1 <= limit <= MAX_PAGE_SIZE:
        raise SimulatedApiError(422, f"limit: must be from 1 to {MAX_PAGE_SIZE}", "limit")
    return limit


def _cursor(value: str | None) -> tuple[int, str] | None:
    if value is None:
        return None
    if not CURSOR_PATTERN.match(value):
        message = "cursor: pass the next_cursor of the previous page unchanged"
        raise SimulatedApiError(422, message, "cursor")
    stamp, _, object_id = value.partition(".")
    return int(stamp), object_id


def _time(value: str | None, param: str) -> int | None:
    if value is None:
        return None
    try:
        return parse_to_us(value)
    except ValueError as exc:
        raise SimulatedApiError(400, f"{param}: not an RFC 3339 timestamp ({exc})", param) from None


class SimulatedAdapter(BaseAdapter):
    """Hands each request of a ``requests.Session`` to a ``SimulatedApi``: no socket at all."""

    def __init__(self, api: SimulatedApi) -> None:
        super().__init__()
        self.api = api

    def send(
        self,
        request: requests.PreparedRequest,
        stream: bool = False,
        timeout: float | tuple[float, float] | tuple[float, None] | None = None,
        verify: bool | str = True,
        cert: bytes | str | tuple[bytes | str, bytes | str] | None = None,
        proxies: Mapping[str, str] | None = None,
    ) -> requests.Response:
        answer = self.api.handle(request.method or "GET", request.url or "", request.headers)
        response = requests.Response()
        response.status_code = answer.status
        response.reason = REASONS.get(answer.status, "")
        response.headers = CaseInsensitiveDict(
            {**answer.headers, "Content-Length": str(len(answer.body))}
        )
        response._content = answer.body
        response.encoding = "utf-8"
        response.url = request.url or ""
        response.request = request
        return response

    def close(self) -> None:
        """Nothing to release: no connections were opened."""
