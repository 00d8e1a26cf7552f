"""The bridge's promises (docs/bridge.md, "What it promises"), shown end to end.

**The shared scenario table through the bridge.** Each scenario of
``tests/data/cursor_scenarios.json`` is replayed against a fresh sandbox account while a
``Pump`` fills the outbox of two subscriptions (one without filters, one for ``phishing`` only:
the table's verdicts are all ``clean``) and a ``Deliverer`` sends whatever is due to a loopback
receiver after every poll. Ties, late items and bursts must reach the unfiltered subscription
exactly once each (webhook-ids counted, nothing deduplicated), at the poll the table says, in
(timestamp, id) order; the filtered one gets nothing. ``Pump`` takes no start, page size or
policy: they are set on its ``poller`` (the ``Poller`` it polls with) as the table's trigger has
them, so a scenario backfills from T0 unless it sets ``activate``; the activation scenario keeps
the start the bridge gives a pump, its first poll.

Skipped, because the pump or the in-process replay cannot express them:

* ``max_pages`` ("a poll stopped by the rate budget resumes where it stopped", "a burst of
  several polls' budgets comes out in full..."): ``Pump.poll`` takes no page limit.
* ``crash_after_page`` and ``restart`` ("a crash between delivery and commit repeats only that
  page", "a restart doubles nothing"): the crash point lies inside the pump (between its own sink
  and its commit), out of a step's reach without patching it; a crash and a restart on the same
  file are what the SIGKILL test below does, to a real process.
* ``after_page`` ("items that become visible during a multi-page poll"): the pump's sink is its
  own (``OutboxCursorStore.sink``); no step can run between two of its pages.
* ``budget_per_hour`` ("a budget of 60 requests an hour...", "a budget too small for live
  reads..."): their expectations follow request counts and the cursor's budget plan, which the
  trigger's own replay (``tests/test_trigger_scenarios.py``) checks; here the budget is unlimited.

**SIGKILL mid-delivery.** ``mxguard bridge serve`` delivers sandbox traffic to a receiver that
answers slowly and holds one request open; the bridge is killed with SIGKILL while it waits for
that answer, then started again on the same data folder. Every published verdict arrives, and
the only repeat is the delivery that was in flight, with the same ``webhook-id``.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from bridge.signing import verify, webhook_id
from sandbox.server import SandboxServer
from sandbox.settings import SandboxSettings
from tests.bridge_replay import BridgeProcess, BridgeScenarioRun, SlowReceiver, wait_for
from tests.bridge_support import Receiver
from tests.scenario_replay import expand, load_scenarios
from tests.support import SandboxAdmin

DEFAULTS, SCENARIOS = load_scenarios()
UNSUPPORTED_STEP_KEYS = {"crash_after_page", "max_pages", "after_page"}
UNSUPPORTED_OPS = {"restart"}


def _replayable(scenario: dict[str, Any]) -> bool:
    if scenario.get("budget_per_hour"):
        return False
    return not any(
        step["op"] in UNSUPPORTED_OPS or UNSUPPORTED_STEP_KEYS & set(step)
        for step in scenario["steps"]
    )


REPLAYED = [s for s in SCENARIOS if _replayable(s)]


def roomy() -> SandboxSettings:
    """An empty sandbox whose rate limits do not matter."""
    return SandboxSettings(seed="empty", rate_per_minute=1_000_000, rate_per_hour=10_000_000)


@pytest.fixture(scope="module")
def own_sandbox() -> Iterator[SandboxServer]:
    """A sandbox of this module's own: the scenarios move its clock by many minutes, which
    must not reach the session's sandboxes (a bridge process there runs on the real clock)."""
    with SandboxServer(roomy()) as server:
        yield server


def test_the_replayed_scenarios_are_the_ones_named_in_the_docstring() -> None:
    assert [s["name"] for s in REPLAYED] == [
        "first poll starts from now",
        "hundreds of ties at one timestamp, across pages",
        "a tie that grows after a poll",
        "late arrival after newer items: at low volume every poll looks back, for free",
        "late arrival at the end of the bound while newer items keep coming",
        "a burst of many pages",
        "activation: nothing visible before it comes out, a late arrival from before it does",
    ]


@pytest.mark.parametrize("scenario", REPLAYED, ids=[s["name"] for s in REPLAYED])
def test_each_scenario_reaches_each_subscriber_exactly_once(
    own_sandbox: SandboxServer, scenario: dict[str, Any], tmp_path: Path, receiver: Receiver
) -> None:
    admin = SandboxAdmin(own_sandbox)
    expected: list[str] = []
    with BridgeScenarioRun(
        admin, admin.new_account(), DEFAULTS, scenario, tmp_path, receiver
    ) as bridge:
        for number, step in enumerate(scenario["steps"]):
            arrived = bridge.run_step(step)
            if step["op"] == "poll":
                wanted = expand(step["expect"])
                expected += wanted
                stray = [a for a in arrived if a.subscription_id != bridge.everything.id]
                assert stray == [], f"step {number}: for the filtered subscription, or unsigned"
                got = [a.item_id for a in arrived]
                assert got == wanted, f"step {number}: {len(got)} arrived, {len(wanted)} expected"
        everything = bridge.everything
        arrivals = bridge.arrivals
    assert [a for a in arrivals if a.subscription_id != everything.id] == [], (
        "only the unfiltered subscription gets anything, and every webhook verifies"
    )
    per_webhook_id = Counter(a.webhook_id for a in arrivals)
    assert [wid for wid, n in per_webhook_id.items() if n > 1] == [], "each webhook-id once"
    assert sorted(a.item_id for a in arrivals) == sorted(expected)
    assert len(expected) == len(set(expected))
    assert {a.webhook_id for a in arrivals} == {
        webhook_id(everything.id, f"{bridge.run.tag}_{item}") for item in expected
    }


PUBLISHED = 60
HOLD_AT = 20
"""The request the receiver holds open; the bridge is killed while it waits for the answer."""
WAIT_S = 60.0


@pytest.mark.slow
def test_sigkill_mid_delivery_loses_nothing_and_repeats_only_with_the_same_webhook_id(
    tmp_path: Path,
) -> None:
    with (
        SandboxServer(roomy()) as sandbox,  # its clock is the real one
        SandboxAdmin(sandbox) as admin,
        SlowReceiver(delay_s=0.3, hold_at=HOLD_AT) as receiver,
        BridgeProcess(sandbox.base_url, tmp_path / "data", tmp_path / "bridge.log") as bridge,
    ):
        account = admin.new_account(domains=("example.com",))
        bridge.start()
        made = requests.post(
            f"{bridge.url}/v1/subscriptions",
            json={"event": "new_verdict", "target_url": receiver.url},
            headers={"Authorization": f"Bearer {account.token}"},
            timeout=10,
        )
        assert made.status_code == 201, made.text
        subscription_id, secret = made.json()["id"], made.json()["secret"]
        wait_for(bridge.pumping, 30, "the pump's first poll")
        assert admin.traffic(account, PUBLISHED, spread_seconds=1, seed=7)["created"] == PUBLISHED
        listed = admin.public(account, "GET", f"/verdicts?limit={PUBLISHED + 10}").json()
        published = {verdict["id"] for verdict in listed["data"]}
        assert len(published) == PUBLISHED

        assert receiver.held.wait(WAIT_S), "the held request never arrived"
        bridge.kill()
        receiver.release()
        before_kill = receiver.received
        assert len(before_kill) == HOLD_AT < PUBLISHED, "killed mid-delivery"
        in_flight = before_kill[-1].item_id

        def answered() -> set[str]:
            """Items of every request but the one the bridge died waiting on (which the dead
            bridge never had answered): an item there is delivered, not only sent."""
            return {got.item_id for got in receiver.received if got.number != HOLD_AT}

        bridge.start()
        try:
            wait_for(lambda: published <= answered(), WAIT_S, "every verdict delivered")
        except AssertionError as late:
            raise AssertionError(f"{late}; missing {sorted(published - answered())}") from None
        bridge.stop()
        received = receiver.received
        errors = bridge.errors()

    arrived: dict[str, list[str]] = defaultdict(list)
    for got in received:
        payload = verify(secret, got.body, got.headers)
        assert payload["data"]["id"] == got.item_id
        arrived[got.item_id].append(got.headers["webhook-id"])
    assert set(arrived) == published, "every published verdict, and nothing else"
    for item_id, ids in arrived.items():
        assert set(ids) == {webhook_id(subscription_id, item_id)}, f"{item_id}: {ids}"
    repeated = {item_id for item_id, ids in arrived.items() if len(ids) > 1}
    assert repeated == {in_flight}, "only the delivery in flight at the kill is repeated"
    assert len(arrived[in_flight]) == 2
    assert account.token not in errors
    assert json.loads(received[0].body)["type"] == "new_verdict"
