"""The bridge console: a page at ``/console/`` that shows one customer whether every subscription
is being delivered and how much of the token's budget is in use.

Server-rendered HTML (Jinja2, autoescaped) with one small script that refreshes the panels every
few seconds; the budget chart is SVG drawn here. Nothing is built or fetched from elsewhere: the
templates, the stylesheet and the script are files of this package.

**Access.** The console asks for the MxGuard token the API takes; MxGuard says whose it is
(``who_is``, the API's own check), and the session keeps only that customer. Everything shown
is that customer's. A form that changes something (Recover, log out) is a POST carrying the
session's CSRF token; the login form carries one of its own (a cookie and a field that must
match). Every answer forbids framing and inline scripts (``SECURITY_HEADERS``) and is not cached.

Forms are parsed here (URL-encoded, bounded): no multipart library is needed for three fields.
"""

from __future__ import annotations

import math
import secrets
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from importlib import resources
from typing import Any
from urllib.parse import parse_qs, urlencode

from fastapi import FastAPI, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, PackageLoader, select_autoescape

from api_client import InvalidTokenError, Secret, check_token
from api_client.errors import shown
from bridge.console import format as fmt
from bridge.console.chart import budget_chart
from bridge.console.sessions import ConsoleSession, LoginThrottle, SessionStore
from bridge.console.view import build_view
from bridge.storage import BridgeStorage
from triggers.base import to_micros

PATH = "/console"
SESSION_COOKIE = "mxguard_console"
LOGIN_COOKIE = "mxguard_console_login"
"""The login form's own CSRF token (double submit: cookie and field)."""
REFRESH_S = 5
"""How often the page refreshes its panels."""
MAX_FORM_BYTES = 16_384
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
        "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


class LoginRefusedError(Exception):
    """``who_is`` refused a token: MxGuard said no, or could not be asked. ``message`` is shown
    on the login page (it never quotes the token)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


WhoIs = Callable[[Secret], str]
"""A token's customer id; ``LoginRefusedError`` when there is none to give."""


def _environment() -> Environment:
    env = Environment(
        loader=PackageLoader("bridge.console", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["when"] = fmt.when
    env.filters["duration"] = fmt.duration
    env.filters["local_input"] = fmt.local_input
    env.globals["ago"] = fmt.ago
    env.globals["budget_chart"] = budget_chart
    return env


async def _form(request: Request) -> dict[str, str]:
    """The URL-encoded body's fields (first value of each); {} for anything else or too big."""
    if not request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        return {}
    body = await request.body()
    if len(body) > MAX_FORM_BYTES:
        return {}
    fields = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
    return {name: values[0] for name, values in fields.items()}


def parse_since(text: str) -> int:
    """A ``datetime-local`` value (read as UTC) or an RFC 3339 time, in µs; ``ValueError``."""
    value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return to_micros(value)


def console_app(
    storage: BridgeStorage,
    *,
    who_is: WhoIs,
    clock_us: Callable[[], int],
    sessions: SessionStore | None = None,
    throttle: LoginThrottle | None = None,
    token_urlsafe: Callable[[int], str] = secrets.token_urlsafe,
) -> FastAPI:
    """The console over ``storage``, to be mounted at ``PATH``."""
    env = _environment()
    store = sessions or SessionStore(token_urlsafe=token_urlsafe)
    logins = throttle or LoginThrottle()
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None, redirect_slashes=False)
    static = resources.files("bridge.console").joinpath("static")
    app.mount("/static", StaticFiles(directory=str(static)), name="static")

    @app.middleware("http")
    async def security_headers(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        response = await call_next(request)
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        return response

    def page(name: str, status: int = 200, **context: Any) -> HTMLResponse:
        html = env.get_template(name).render(path=PATH, refresh_s=REFRESH_S, **context)
        return HTMLResponse(html, status_code=status)

    def session_of(request: Request) -> ConsoleSession | None:
        return store.get(request.cookies.get(SESSION_COOKIE))

    def to_login() -> RedirectResponse:
        return RedirectResponse(f"{PATH}/login", status_code=303)

    def login_page(request: Request, error: str | None = None, status: int = 200) -> Response:
        token = request.cookies.get(LOGIN_COOKIE) or token_urlsafe(32)
        response = page("login.html", status, csrf=token, error=error)
        response.set_cookie(
            LOGIN_COOKIE,
            token,
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
            path=PATH,
        )
        return response

    def console_context(session: ConsoleSession, request: Request) -> dict[str, Any]:
        view = build_view(storage, session.customer_id, clock_us())
        notice: str | None = None
        problem: str | None = None
        mine = {row.subscription.id for row in view.subscriptions}
        recovered = request.query_params.get("recovered")
        if recovered in mine:
            count = request.query_params.get("requeued", "0")
            notice = (
                f"{recovered} is active again; "
                f"{int(count) if count.isdigit() else 0} undelivered item(s) will be sent again."
            )
        if request.query_params.get("error") == "since":
            problem = "Recover needs the time from which to send again, e.g. 2026-12-01 08:00."
        return {"view": view, "csrf": session.csrf, "notice": notice, "problem": problem}

    @app.get("/")
    def console(request: Request) -> Response:
        session = session_of(request)
        if session is None:
            return to_login()
        return page("console.html", **console_context(session, request))

    @app.get("/panels")
    def panels(request: Request) -> Response:
        """The page's panels alone, for the refresh script; 401 once the session is over."""
        session = session_of(request)
        if session is None:
            return JSONResponse({"error": "logged out"}, status_code=401)
        return page("panels.html", **console_context(session, request))

    @app.get("/login")
    def login_form(request: Request) -> Response:
        if session_of(request) is not None:
            return RedirectResponse(f"{PATH}/", status_code=303)
        return login_page(request)

    @app.post("/login")
    async def login(request: Request) -> Response:
        form = await _form(request)
        expected = request.cookies.get(LOGIN_COOKIE)
        if not expected or not secrets.compare_digest(
            form.get("csrf", "").encode(), expected.encode()
        ):
            return login_page(request, "The form expired; please log in again.", 403)
        client = request.client.host if request.client else "unknown"
        wait = logins.wait_s(client)
        if wait > 0:
            message = f"Too many failed logins; try again in {math.ceil(wait)} s."
            response = login_page(request, message, 429)
            response.headers["Retry-After"] = str(math.ceil(wait))
            return response
        try:
            token = check_token(form.get("token", ""), source="the token field")
            customer_id = who_is(token)
        except InvalidTokenError as error:
            logins.failed(client)
            return login_page(request, error.message, 401)
        except LoginRefusedError as refused:
            logins.failed(client)
            return login_page(request, refused.message, 401)
        session = store.create(customer_id)
        response = RedirectResponse(f"{PATH}/", status_code=303)
        response.set_cookie(
            SESSION_COOKIE,
            session.id,
            max_age=int(store.ttl_s),
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
            path=PATH,
        )
        response.delete_cookie(LOGIN_COOKIE, path=PATH)
        return response

    @app.post("/logout")
    async def logout(request: Request) -> Response:
        session = session_of(request)
        form = await _form(request)
        if session is not None and session.accepts(form.get("csrf")):
            store.drop(session.id)
        response = to_login()
        response.delete_cookie(SESSION_COOKIE, path=PATH)
        return response

    @app.post("/subscriptions/{subscription_id}/recover")
    async def recover(request: Request, subscription_id: str) -> Response:
        """What the API's recover route does, for the logged-in customer: undelivered items
        queued since the time asked for are sent again, and the subscription is active again."""
        session = session_of(request)
        if session is None:
            return to_login()
        form = await _form(request)
        if not session.accepts(form.get("csrf")):
            return JSONResponse({"error": "missing or wrong CSRF token"}, status_code=403)
        if storage.subscription(session.customer_id, subscription_id) is None:
            return JSONResponse(
                {"error": f"no subscription {shown(subscription_id)}"}, status_code=404
            )
        try:
            since = parse_since(form.get("since", ""))
        except ValueError:
            query = urlencode({"error": "since"})
            return RedirectResponse(f"{PATH}/?{query}#sub-{subscription_id}", status_code=303)
        requeued = storage.recover(session.customer_id, subscription_id, since)
        query = urlencode({"recovered": subscription_id, "requeued": requeued})
        return RedirectResponse(f"{PATH}/?{query}#sub-{subscription_id}", status_code=303)

    return app
