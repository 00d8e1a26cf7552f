"""The bridge's pumps against the sandbox: one poll per token and event whatever the number of
subscriptions, each subscriber's filters applied, rows written with the cursor."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from api_client import MxGuardClient
from bridge.models import Attempt, Subscription
from bridge.outbox import Pump, matches, stream_key
from bridge.secrets_box import SecretBox
from bridge.signing import new_secret
from bridge.storage import BridgeStorage
from sandbox.server import SandboxServer
from tests.bridge_support import open_storage, storage_at
from tests.client_support import aligned_time
from tests.support import Account, SandboxAdmin, SandboxTime
from triggers.polling.new_verdict import TRIGGER as NEW_VERDICT

MICROS = 1_000_000
SPAM_ONLY = f"sub_{99:024x}"
"""The subscription ``run_pump`` adds with a filter: spam only."""


@pytest.fixture
def storage(tmp_path: Path) -> Iterator[BridgeStorage]:
    made = open_storage(
        tmp_path / "bridge.sqlite", SecretBox.from_environment(tmp_path, environ={})
    )
    yield made
    made.close()


def subscribe(
    storage: BridgeStorage, account: Account, fingerprint: str, number: int, **filters: object
) -> Subscription:
    subscription = Subscription(
        id=f"sub_{number:024x}",
        customer_id=account.customer_id,
        token_fingerprint=fingerprint,
        event=NEW_VERDICT.key,
        filters=dict(filters),
        target_url=f"https://receiver.example/{number}",
        secret=new_secret(),
        created_at=0,
    )
    storage.add_subscription(subscription)
    return subscription


def run_pump(
    storage: BridgeStorage, admin: SandboxAdmin, account: Account, subscribers: int
) -> tuple[int, dict[str, list[str]]]:
    """Traffic through one pump with ``subscribers`` subscriptions: requests served, and the
    item ids each subscription's outbox holds."""
    time: SandboxTime = aligned_time(admin)
    client = MxGuardClient(
        account.token,
        admin.base_url,
        rate_limit_db=":memory:",
        clock=time.clock,
        sleep=time.sleep,
    )
    fingerprint = client.token.fingerprint
    made = [subscribe(storage, account, fingerprint, n) for n in range(subscribers)]
    spam = subscribe(storage, account, fingerprint, 99, verdict=["spam"])
    pump = Pump(
        storage,
        trigger=NEW_VERDICT,
        fingerprint=fingerprint,
        client=client,
        clock_us=lambda: int(time.clock() * MICROS),
    )
    with client:
        before = admin.requests_served(account)["total"]
        pump.poll()  # activation: nothing before it is delivered
        time.sleep(30)
        admin.traffic(account, 700, spread_seconds=20, seed=7)
        for _ in range(4):
            time.sleep(60)
            pump.poll()
        served = admin.requests_served(account)["total"] - before
    held: dict[str, list[str]] = {s.id: [] for s in [*made, spam]}
    now = int(time.clock() * MICROS)
    while rows := storage.due(now=now, limit=100_000):  # as a worker takes them, claim by claim
        for row in rows:
            held[row.subscription_id].append(row.item_id)
            storage.record_attempt(
                Attempt(
                    delivery_id=row.id,
                    subscription_id=row.subscription_id,
                    at=now,
                    status_code=200,
                    latency_ms=1.0,
                ),
                delivered=True,
            )
    return served, held


def test_requests_to_mxguard_do_not_grow_with_the_subscriptions(
    roomy_sandbox: SandboxServer, tmp_path: Path
) -> None:
    admin = SandboxAdmin(roomy_sandbox)
    served = {}
    for subscribers in (1, 50):
        account = admin.new_account(domains=("example.com",))
        with storage_at(
            tmp_path / f"{subscribers}.sqlite", SecretBox.from_environment(tmp_path, environ={})
        ) as storage:
            served[subscribers], held = run_pump(storage, admin, account, subscribers)
        everyone = [ids for sub, ids in held.items() if sub != SPAM_ONLY]
        counts = {len(ids) for ids in everyone} | {len(set(ids)) for ids in everyone}
        assert counts == {700}, counts
    assert abs(served[50] - served[1]) <= 1, served


def test_a_subscription_gets_only_what_its_filters_pass(
    roomy_sandbox: SandboxServer, storage: BridgeStorage
) -> None:
    admin = SandboxAdmin(roomy_sandbox)
    account = admin.new_account(domains=("example.com",))
    _, held = run_pump(storage, admin, account, 1)
    spam_only = held[SPAM_ONLY]
    everything = held[f"sub_{0:024x}"]
    assert spam_only, "the traffic has spam"
    assert set(spam_only) < set(everything)


def test_filters_match_as_the_api_filters() -> None:
    item = {"domain": "a.example", "verdict": "spam", "action": "quarantined"}
    assert matches({}, item)
    assert matches({"domain": None, "verdict": []}, item)
    assert matches({"verdict": ["spam", "phishing"]}, item)
    assert not matches({"verdict": ["clean"]}, item)
    assert matches({"domain": "a.example"}, item)
    assert not matches({"domain": "b.example"}, item)


def test_a_stream_key_names_the_event_and_the_token_fingerprint_only() -> None:
    assert stream_key("abcd1234", "new_verdict") == "new_verdict:abcd1234"
