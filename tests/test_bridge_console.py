"""The bridge console over real HTTP (the browser's part is ``tests/browser``): login with an
MxGuard token the sandbox accepts, one customer's data only, CSRF on every change, security
headers on every answer, and the view's figures (lag, budget by minute, chart geometry)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from api_client import MxGuardClient, Secret
from api_client.contract import MICROS
from bridge.api import create_app
from bridge.console.app import SECURITY_HEADERS, parse_since
from bridge.console.chart import HEIGHT, budget_chart
from bridge.console.sessions import FAILED_LOGINS, LoginThrottle
from bridge.console.view import (
    CHART_MINUTES,
    MinuteSpend,
    build_view,
    caught_up_to,
    minutes_spent,
)
from bridge.models import BudgetReport, StreamReport, SubscriptionStatus
from bridge.outbox import stream_key
from bridge.secrets_box import SecretBox
from bridge.storage import OPERATOR, BridgeStorage
from sandbox.server import LoopbackServer, SandboxServer
from tests.bridge_support import Clock, open_storage, public_resolver, seed_attempts, service_for
from tests.bridge_support import subscribe as subscribe_in_storage
from tests.client_support import aligned_time
from tests.support import Account, SandboxAdmin
from triggers.cursor import MINUTE_US, CursorPolicy, CursorState
from triggers.polling.new_domain import TRIGGER as NEW_DOMAIN
from triggers.polling.new_verdict import TRIGGER as NEW_VERDICT

START = 1_800_000_000 * MICROS
TRIGGERS = {t.key: t for t in (NEW_VERDICT, NEW_DOMAIN)}
CSRF_FIELD = re.compile(r'name="csrf" value="([^"]+)"')


@dataclass
class Console:
    base_url: str
    storage: BridgeStorage
    clock: Clock
    pages: list[requests.Response]

    def login(self, account: Account | str) -> requests.Session:
        """A browser-like session logged in with the account's token."""
        session = requests.Session()
        token = account if isinstance(account, str) else account.token
        answer = self.post_login(session, token)
        assert answer.status_code == 303, answer.text
        assert answer.headers["location"] == "/console/"
        return session

    def post_login(self, session: requests.Session, token: str) -> requests.Response:
        form = self.get(session, "/console/login")
        csrf = CSRF_FIELD.search(form.text)
        assert csrf is not None
        return self.post(session, "/console/login", {"csrf": csrf.group(1), "token": token})

    def get(
        self, session: requests.Session, path: str, headers: dict[str, str] | None = None
    ) -> requests.Response:
        answer = session.get(
            self.base_url + path, headers=headers, timeout=30, allow_redirects=False
        )
        self.pages.append(answer)
        return answer

    def post(
        self,
        session: requests.Session,
        path: str,
        form: dict[str, str],
        headers: dict[str, str] | None = None,
    ) -> requests.Response:
        answer = session.post(
            self.base_url + path, data=form, headers=headers, timeout=30, allow_redirects=False
        )
        self.pages.append(answer)
        return answer

    def csrf(self, session: requests.Session) -> str:
        found = CSRF_FIELD.search(self.get(session, "/console/").text)
        assert found is not None
        return found.group(1)


@pytest.fixture
def console(tmp_path: Path, sandbox: SandboxServer) -> Iterator[Console]:
    storage = fresh_storage(tmp_path)
    clock = Clock(START)
    app = create_app(
        storage,
        triggers=TRIGGERS,
        client_factory=lambda token: MxGuardClient(
            token, sandbox.base_url, rate_limit_db=":memory:"
        ),
        clock_us=clock,
        resolve=public_resolver,
    )
    server = LoopbackServer(app, name="the bridge").start()
    made = Console(server.base_url, storage, clock, [])
    yield made
    server.stop()
    storage.close()


def fresh_storage(folder: Path) -> BridgeStorage:
    return open_storage(folder / "bridge.sqlite", SecretBox.from_environment(folder, environ={}))


@pytest.fixture
def alice_and_bob(admin: SandboxAdmin) -> tuple[Account, Account]:
    """Two customers with a domain each."""
    return (
        admin.new_account(domains=("alice.example",)),
        admin.new_account(domains=("bob.example",)),
    )


def subscribe(console: Console, account: Account, **body: Any) -> dict[str, Any]:
    answer = requests.post(
        console.base_url + "/v1/subscriptions",
        json={"event": "new_verdict", "target_url": "https://receiver.example/hook", **body},
        headers={"Authorization": f"Bearer {account.token}"},
        timeout=30,
    )
    assert answer.status_code == 201, answer.text
    made: dict[str, Any] = answer.json()
    return made


def test_the_console_asks_for_a_token_mxguard_accepts(
    console: Console, admin: SandboxAdmin, account: Account
) -> None:
    browser = requests.Session()
    home = console.get(browser, "/console")
    assert home.status_code == 308
    assert home.headers["location"] == "/console/"
    assert console.get(browser, "/console/").headers["location"] == "/console/login"
    assert console.get(browser, "/console/panels").status_code == 401

    malformed = console.post_login(browser, "not a token")
    assert malformed.status_code == 401
    assert "login-error" in malformed.text
    unknown = console.post_login(browser, "mxg_live_" + "a" * 32)
    assert unknown.status_code == 401
    assert "login-error" in unknown.text
    assert "a" * 32 not in unknown.text
    forged = console.post(browser, "/console/login", {"csrf": "guess", "token": account.token})
    assert forged.status_code == 403
    assert console.get(browser, "/console/").status_code == 303  # still logged out

    logged_in = console.login(account)
    assert console.storage.tokens() == []  # logging in keeps no token; only the API does
    page = console.get(logged_in, "/console/")
    assert page.status_code == 200
    assert account.customer_id in page.text
    cookie = next(c for c in logged_in.cookies if c.name == "mxguard_console")
    assert cookie.has_nonstandard_attr("HttpOnly")
    assert cookie.get_nonstandard_attr("SameSite") == "strict"
    assert cookie.path == "/console"


def test_a_customer_sees_only_their_own_subscriptions(
    console: Console, alice_and_bob: tuple[Account, Account]
) -> None:
    alice, bob = alice_and_bob
    hers = subscribe(console, alice, description="alice's hook")
    his = subscribe(console, bob, description="bob's hook")

    page = console.get(console.login(alice), "/console/").text
    assert hers["id"] in page
    assert "alice&#39;s hook" in page
    assert his["id"] not in page
    assert "bob&#39;s hook" not in page
    assert bob.customer_id not in page
    for answer in console.pages:
        assert alice.token not in answer.text
        assert bob.token not in answer.text
        assert alice.token not in str(answer.headers)


def test_recover_needs_the_session_csrf_token_and_reenables(
    console: Console, alice_and_bob: tuple[Account, Account]
) -> None:
    alice, bob = alice_and_bob
    hers = subscribe(console, alice)
    his = subscribe(console, bob)
    for made in (hers, his):
        console.storage.set_status(made["id"], SubscriptionStatus.disabled, START)
    browser = console.login(alice)
    page = console.get(browser, "/console/").text
    assert f'data-subscription="{hers["id"]}" data-status="disabled"' in page
    assert f"/console/subscriptions/{hers['id']}/recover" in page
    since = "2027-01-15T07:00:00"
    recover = f"/console/subscriptions/{hers['id']}/recover"

    refused = console.post(browser, recover, {"since": since, "csrf": "guess"})
    assert refused.status_code == 403
    missing = console.post(browser, recover, {"since": since})
    assert missing.status_code == 403
    stranger = requests.Session()
    assert console.post(stranger, recover, {"since": since}).status_code == 303  # to login
    assert console.storage.subscription(alice.customer_id, hers["id"]).status.value == "disabled"

    csrf = console.csrf(browser)
    bad_time = console.post(browser, recover, {"since": "yesterday", "csrf": csrf})
    assert bad_time.status_code == 303
    assert "error=since" in bad_time.headers["location"]
    assert console.get(browser, bad_time.headers["location"]).text.count('id="problem"') == 1
    others = console.post(
        browser, f"/console/subscriptions/{his['id']}/recover", {"since": since, "csrf": csrf}
    )
    assert others.status_code == 404
    assert console.storage.subscription(bob.customer_id, his["id"]).status.value == "disabled"

    done = console.post(browser, recover, {"since": since, "csrf": csrf})
    assert done.status_code == 303
    shown = console.get(browser, done.headers["location"]).text
    assert 'id="notice"' in shown
    assert f'data-subscription="{hers["id"]}" data-status="active"' in shown
    assert console.storage.subscription(alice.customer_id, hers["id"]).status.value == "active"


def test_logging_out_ends_the_session_at_once(console: Console, account: Account) -> None:
    browser = console.login(account)
    stolen = dict(browser.cookies.items())
    assert console.post(browser, "/console/logout", {"csrf": "guess"}).status_code == 303
    replay = requests.Session()
    replay.cookies.update(stolen)
    assert console.get(replay, "/console/panels").status_code == 200  # a forged logout: no effect
    csrf = console.csrf(replay)
    assert console.post(replay, "/console/logout", {"csrf": csrf}).status_code == 303
    again = requests.Session()
    again.cookies.update(stolen)
    assert console.get(again, "/console/panels").status_code == 401


def test_every_answer_forbids_framing_and_inline_scripts(
    console: Console, account: Account
) -> None:
    subscribe(console, account)
    assert console.get(requests.Session(), "/console/login").status_code == 200
    browser = console.login(account)
    for path in (
        "/console/",
        "/console/panels",
        "/console/static/console.js",
        "/console/static/console.css",
    ):
        answer = console.get(browser, path)
        assert answer.status_code == 200, path
        for name, value in SECURITY_HEADERS.items():
            assert answer.headers[name] == value, (path, name)
    csp = SECURITY_HEADERS["Content-Security-Policy"]
    assert "unsafe-inline" not in csp
    assert "script-src 'self'" in csp
    assert "frame-ancestors 'none'" in csp
    for answer in console.pages:
        if answer.headers.get("content-type", "").startswith("text/html"):
            # what the policy would block: inline scripts, handlers and style attributes
            assert not re.search(r"<script(?![^>]*\bsrc=)", answer.text)
            assert not re.search(r"\son[a-z]+=", answer.text)
            assert " style=" not in answer.text
            assert "http://" not in answer.text.replace(console.base_url, "")


def test_the_view_reports_what_the_worker_saw(tmp_path: Path, admin: SandboxAdmin) -> None:
    """A round of the real service against the sandbox keeps each stream's policy and the
    token's budget, which the view shows with the requests the round spent by minute."""
    account = admin.new_account(domains=("example.com",))
    storage = fresh_storage(tmp_path)
    fingerprint = Secret(account.token).fingerprint
    storage.put_token(
        account.customer_id, fingerprint, account.token, label="main", added_by=OPERATOR
    )
    for n, event in enumerate(("new_verdict", "new_quarantined_message")):
        subscribe_in_storage(
            storage, account, account.token, event, "https://receiver.example/hook", n
        )
    time = aligned_time(admin)
    service = service_for(storage, admin, time)
    try:
        service.run_round()
        now = int(time.clock() * MICROS)
        view = build_view(storage, account.customer_id, now)
    finally:
        service.close()
        storage.close()
    (token,) = view.tokens
    assert token.label == "main"
    assert [s.event for s in token.streams] == ["new_quarantined_message", "new_verdict"]
    for stream in token.streams:
        assert stream.report is not None
        assert stream.report.mode == "live"
        assert stream.report.error is None
        assert stream.cursor is not None
        assert stream.lag_us is not None
    assert token.budget is not None
    assert token.budget.per_minute == 60
    assert (token.per_minute, token.per_hour) == (60, 600)
    assert token.budget.server_remaining is not None
    assert token.budget.server_remaining < 60
    spent = sum(sum(s.cursor.spent.values()) for s in token.streams if s.cursor)
    assert spent > 0
    assert token.spent_last_hour == spent
    assert len(token.minutes) == CHART_MINUTES
    assert token.minutes[-1].minute == (now // MINUTE_US) * MINUTE_US


def test_reports_are_replaced_and_go_with_their_token(tmp_path: Path) -> None:
    storage = fresh_storage(tmp_path)
    try:
        storage.put_token("cus_1", "fp1", "mxg_live_" + "b" * 32)
        for at in (1, 2):
            stream = StreamReport(
                stream=stream_key("fp1", "new_verdict"),
                fingerprint="fp1",
                event="new_verdict",
                at=at,
                mode="batch" if at == 2 else "live",
            )
            storage.record_reports(
                [stream],
                BudgetReport(
                    fingerprint="fp1",
                    at=at,
                    per_minute=60,
                    per_hour=600,
                    minute_remaining=60 - at,
                    hour_remaining=600 - at,
                    server_remaining=59 - at,
                ),
            )
        (report,) = storage.stream_reports("fp1")
        assert (report.at, report.mode) == (2, "batch")
        budget = storage.budget_report("fp1")
        assert budget is not None
        assert (budget.at, budget.server_remaining) == (2, 57)
        assert storage.stream_reports("fp2") == []
        assert storage.budget_report("fp2") is None
        storage.remove_token("fp1")
        assert storage.stream_reports("fp1") == []
        assert storage.budget_report("fp1") is None
    finally:
        storage.close()


def _cursor(**fields: Any) -> CursorState:
    state = CursorState.starting_at(START - 3600 * MICROS)
    for name, value in fields.items():
        setattr(state, name, value)
    return state


def _report(mode: str) -> StreamReport:
    return StreamReport(stream="s", fingerprint="f", event="e", at=START, mode=mode)


def test_lag_is_how_far_behind_now_the_stream_has_been_read() -> None:
    policy = CursorPolicy()
    polled = START - 30 * MICROS
    assert caught_up_to(_cursor(last_poll=polled), _report("live"), policy) == polled
    assert (
        caught_up_to(_cursor(last_poll=polled), _report("batch"), policy)
        == polled - policy.settle_delay_us
    )
    part_way = START - 600 * MICROS
    assert (
        caught_up_to(_cursor(last_poll=polled, resume_since=part_way), _report("live"), policy)
        == part_way
    )
    never = _cursor()
    assert caught_up_to(never, None, policy) == never.floor


def test_minutes_spent_sums_the_streams_over_the_last_hour() -> None:
    now = START + 30 * MICROS
    current = now // MINUTE_US
    one = _cursor(spent={current: 3, current - 1: 2, current - 60: 50})
    two = _cursor(spent={current: 1, current - 59: 4})
    minutes = minutes_spent([one, two], now)
    assert len(minutes) == CHART_MINUTES
    assert minutes[-1] == MinuteSpend(current * MINUTE_US, 4)
    assert minutes[-2].requests == 2
    assert minutes[0] == MinuteSpend((current - 59) * MINUTE_US, 4)
    assert sum(m.requests for m in minutes) == 10  # the minute an hour ago is out


def test_the_chart_puts_each_limit_at_the_top() -> None:
    counts = [0] * 58 + [60, 30]
    minutes = [MinuteSpend(n * MINUTE_US, c) for n, c in enumerate(counts)]
    chart = budget_chart(minutes, per_minute=60, per_hour=600)
    assert chart.point_count == 60
    assert len(chart.hour_points.split()) == 60
    assert chart.bars[0].height == 0
    full, half = chart.bars[-2], chart.bars[-1]
    assert full.y == chart.top
    assert half.height == pytest.approx(full.height / 2)
    assert chart.hour_total == 90
    last_y = float(chart.hour_points.split()[-1].split(",")[1])
    assert last_y == pytest.approx(HEIGHT - 90 / 600 * (HEIGHT - chart.top))
    over = budget_chart([MinuteSpend(0, 500)], per_minute=60, per_hour=600)
    assert over.bars[0].y >= 0  # over the limit: drawn to the top edge, not off the chart


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2027-01-15T07:00", START - 3600 * MICROS),
        ("2027-01-15T07:00:30", START - 3570 * MICROS),
        ("2027-01-15T08:00:00Z", START),
        ("2027-01-15T09:00:00+01:00", START),
    ],
)
def test_recover_times_are_utc_unless_they_say_otherwise(text: str, expected: int) -> None:
    assert parse_since(text) == expected


def test_an_empty_view_before_any_subscription(tmp_path: Path) -> None:
    storage = fresh_storage(tmp_path)
    try:
        view = build_view(storage, "cus_nobody", START)
    finally:
        storage.close()
    assert (view.subscriptions, view.tokens, view.attempts, view.failing) == ([], [], [], 0)


def test_failed_logins_from_one_address_are_throttled() -> None:
    clock = Clock(0)
    throttle = LoginThrottle(clock=lambda: clock.now, limit=3, window_s=60.0)
    for _ in range(3):
        assert throttle.wait_s("10.0.0.1") == 0
        throttle.failed("10.0.0.1")
    assert throttle.wait_s("10.0.0.1") == 60.0
    assert throttle.wait_s("10.0.0.2") == 0  # another address is not held up
    clock.now = 30
    assert throttle.wait_s("10.0.0.1") == 30.0
    clock.now = 60
    assert throttle.wait_s("10.0.0.1") == 0


def test_the_login_form_answers_429_after_too_many_failures(
    console: Console, account: Account
) -> None:
    browser = requests.Session()
    for _ in range(FAILED_LOGINS):
        assert console.post_login(browser, "mxg_live_" + "c" * 32).status_code == 401
    held = console.post_login(browser, account.token)  # even the right token waits
    assert held.status_code == 429
    assert int(held.headers["retry-after"]) > 0
    assert "Too many failed logins" in held.text


def test_behind_a_tls_proxy_the_cookies_are_secure(console: Console, account: Account) -> None:
    browser = requests.Session()
    behind_tls = {"X-Forwarded-Proto": "https"}
    form = console.get(browser, "/console/login", behind_tls)
    assert "Secure" in form.headers["set-cookie"]
    csrf = CSRF_FIELD.search(form.text)
    assert csrf is not None
    # the test speaks http, where the jar keeps a Secure cookie back: send it as https would
    answer = console.post(
        browser,
        "/console/login",
        {"csrf": csrf.group(1), "token": account.token},
        {**behind_tls, "Cookie": f"mxguard_console_login={csrf.group(1)}"},
    )
    assert answer.status_code == 303
    session_cookie = next(
        c for c in answer.raw.headers.getlist("set-cookie") if c.startswith("mxguard_console=")
    )
    assert "Secure" in session_cookie
    assert "HttpOnly" in session_cookie


def test_recent_attempts_span_the_customers_subscriptions_newest_first(
    console: Console, alice_and_bob: tuple[Account, Account]
) -> None:
    alice, bob = alice_and_bob
    first = subscribe(console, alice)
    second = subscribe(console, alice)
    his = subscribe(console, bob)
    storage = console.storage
    for offset, made, account in ((0, first, alice), (100, second, alice), (50, his, bob)):
        stored = storage.subscription(account.customer_id, made["id"])
        assert stored is not None
        stream = stream_key(stored.token_fingerprint, "new_verdict")
        seed_attempts(storage, stream, made["id"], START + offset * MICROS)

    recent = storage.recent_attempts(alice.customer_id, 4)
    assert [a.subscription_id for a in recent] == [second["id"]] * 3 + [first["id"]]
    assert [a.at for a in recent] == sorted((a.at for a in recent), reverse=True)
    assert len(storage.recent_attempts(alice.customer_id, 100)) == 6  # bob's are not hers

    view = build_view(storage, alice.customer_id, START + 200 * MICROS)
    assert [row.attempt for row in view.attempts] == storage.recent_attempts(alice.customer_id, 20)
    assert {row.event for row in view.attempts} == {"new_verdict"}
    last = {row.subscription.id: row.last_attempt for row in view.subscriptions}
    assert last[second["id"]] == storage.attempts(alice.customer_id, second["id"], 1)[0]
    assert last[second["id"]] is not None
    assert last[second["id"]].status_code is None  # the newest: no answer
