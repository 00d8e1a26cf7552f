"""The console as an operator uses it, in headless Chromium: log in with the MxGuard token, see
a subscription made through the API, see its deliveries arrive as the sandbox publishes
verdicts, press Recover on a subscription the bridge disabled and see it active again, and read
the token's budget chart, on a desktop and on a phone-sized screen."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import requests

from bridge.console.view import CHART_MINUTES
from sandbox.server import SandboxServer
from tests.bridge_live import LiveBridge, wait_for
from tests.bridge_support import Receiver, serving
from tests.support import Account, SandboxAdmin

if TYPE_CHECKING:
    from playwright.sync_api import Browser, ConsoleMessage, Page

GONE = 410
WAIT_MS = 30_000
"""How long the page has to show a change: the bridge's rounds are 1 s, the page refreshes
every 5 s."""


@pytest.fixture
def bridge(sandbox: SandboxServer, tmp_path: Path) -> Iterator[LiveBridge]:
    with LiveBridge(sandbox.base_url, tmp_path / "data", interval=1.0) as running:
        yield running


@pytest.fixture
def page(chromium: Browser) -> Iterator[tuple[Page, list[str]]]:
    """A fresh browser context (no cookies) and the page's console problems (CSP refusals,
    script errors)."""
    context = chromium.new_context(viewport={"width": 1280, "height": 900})
    opened = context.new_page()
    problems: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if message.type in ("error", "warning"):
            problems.append(message.text)

    opened.on("console", on_console)
    opened.on("pageerror", lambda error: problems.append(str(error)))
    yield opened, problems
    context.close()


def subscribe(bridge: LiveBridge, account: Account, target: str, description: str) -> str:
    made = requests.post(
        f"{bridge.url}/v1/subscriptions",
        json={"event": "new_verdict", "target_url": target, "description": description},
        headers={"Authorization": f"Bearer {account.token}"},
        timeout=30,
    )
    assert made.status_code == 201, made.text
    subscription_id: str = made.json()["id"]
    return subscription_id


def log_in(page: Page, bridge: LiveBridge, token: str) -> None:
    page.goto(f"{bridge.url}/console")
    page.wait_for_url("**/console/login")
    page.fill("#token", token)
    page.click("form button[type=submit]")
    page.wait_for_url("**/console/")


@pytest.mark.slow
def test_an_operator_watches_deliveries_and_recovers_a_subscription(
    bridge: LiveBridge,
    admin: SandboxAdmin,
    receiver: Receiver,
    page: tuple[Page, list[str]],
    artifacts: Path,
) -> None:
    from playwright.sync_api import expect

    browser, problems = page
    account = admin.new_account(domains=("example.com",))

    browser.goto(f"{bridge.url}/console")
    browser.wait_for_url("**/console/login")
    browser.fill("#token", "mxg_live_" + "x" * 43)  # well formed; MxGuard refuses it
    browser.click("form button[type=submit]")
    expect(browser.locator("#login-error")).to_be_visible()
    browser.screenshot(path=artifacts / "01-login-refused.png")
    assert [p for p in problems if "401" not in p] == []
    problems.clear()  # the refusal's 401 is the one expected

    log_in(browser, bridge, account.token)
    expect(browser.locator("#customer")).to_have_text(account.customer_id)
    expect(browser.locator("#summary")).to_contain_text("No subscriptions yet")
    browser.screenshot(path=artifacts / "02-logged-in.png", full_page=True)

    # a subscription made through the API appears without reloading the page
    delivered_to = subscribe(bridge, account, receiver.url, "to the receiver")
    row = browser.locator(f'tr.subscription[data-subscription="{delivered_to}"]')
    expect(row).to_have_attribute("data-status", "active", timeout=WAIT_MS)
    expect(row.locator(".last-delivery")).to_contain_text("none yet")
    browser.screenshot(path=artifacts / "03-subscription.png", full_page=True)

    # a verdict in the sandbox becomes a delivery the page shows
    time.sleep(2)  # the stream's first round: it starts from now
    published = admin.traffic(account, 3, spread_seconds=1, seed=11)["created"]
    wait_for(lambda: len(receiver.received) >= published, timeout=30, what="the deliveries")
    attempt = browser.locator(f'tr.attempt[data-subscription="{delivered_to}"]')
    expect(attempt.first).to_have_attribute("data-status-code", "200", timeout=WAIT_MS)
    expect(attempt.first.locator(".excerpt")).to_contain_text("thanks")
    expect(row.locator(".last-delivery")).to_contain_text("200")
    browser.screenshot(path=artifacts / "04-delivered.png", full_page=True)

    # a target answering 410 gets its subscription disabled; Recover re-enables it
    with serving(Receiver(script=[GONE])) as gone:
        disabled = subscribe(bridge, account, gone.url, "answers 410 once")
        time.sleep(2)
        admin.traffic(account, 1, spread_seconds=0, seed=12)
        row = browser.locator(f'tr.subscription[data-subscription="{disabled}"]')
        expect(row).to_have_attribute("data-status", "disabled", timeout=WAIT_MS)
        expect(browser.locator("#summary")).to_contain_text("1 of 2")
        browser.screenshot(path=artifacts / "05-disabled.png", full_page=True)
        since = row.locator("input[name=since]")
        assert since.input_value()  # the page proposes a time: when the subscription failed
        row.locator("button", has_text="Recover").click()
        browser.wait_for_url("**/console/?recovered=*")
        expect(browser.locator("#notice")).to_contain_text(disabled)
        row = browser.locator(f'tr.subscription[data-subscription="{disabled}"]')
        expect(row).to_have_attribute("data-status", "active")
        wait_for(lambda: len(gone.received) >= 2, timeout=30, what="the item sent again")
        expect(row.locator(".last-delivery")).to_contain_text("200", timeout=WAIT_MS)
        browser.screenshot(path=artifacts / "06-recovered.png", full_page=True)

    # the budget chart: one bar a minute over the last hour, what the polls spent
    chart = browser.locator("svg.budget-chart")
    expect(chart).to_have_count(1)
    expect(chart).to_have_attribute("data-points", str(CHART_MINUTES))
    expect(chart.locator("rect.minute")).to_have_count(CHART_MINUTES)
    points = chart.locator("polyline.hour").get_attribute("points") or ""
    assert len(points.split()) == CHART_MINUTES
    bars = [
        int(v)
        for v in chart.locator("rect.minute").evaluate_all(
            "rects => rects.map(r => r.dataset.requests)"
        )
    ]
    spent = browser.locator(".spent-hour").first.inner_text()
    assert sum(bars) > 0
    assert spent.startswith(f"{sum(bars)} / ")
    assert chart.bounding_box() is not None
    expect(browser.locator(".server-remaining")).to_contain_text(" of ")
    chart.scroll_into_view_if_needed()
    browser.screenshot(path=artifacts / "07-budget.png", full_page=True)

    # readable on a phone: nothing wider than the screen
    browser.set_viewport_size({"width": 390, "height": 844})
    browser.reload()
    expect(browser.locator("#customer")).to_have_text(account.customer_id)
    overflow = browser.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0
    browser.screenshot(path=artifacts / "08-phone.png", full_page=True)

    assert problems == []  # no CSP refusal, no script error

    # logging out ends the session; the page goes back to the login form
    browser.set_viewport_size({"width": 1280, "height": 900})
    browser.click("form.logout button")
    browser.wait_for_url("**/console/login")
    browser.goto(f"{bridge.url}/console/")
    browser.wait_for_url("**/console/login")
    assert account.token not in bridge_output(bridge)


def bridge_output(bridge: LiveBridge) -> str:
    bridge.stop()
    return bridge.stderr
