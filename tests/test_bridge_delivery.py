"""The delivery worker against a real receiver on loopback: signed webhooks that verify, retries
on the schedule (an injected clock: nothing sleeps), 410 disabling, no redirects followed, and the
whole way from the sandbox's traffic through a pump to the receiver, each item once."""

from __future__ import annotations

import json
import time as wall_clock
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from standardwebhooks.webhooks import Webhook

from api_client import MxGuardClient
from bridge.delivery import Deliverer
from bridge.models import NewDelivery, Subscription, SubscriptionStatus
from bridge.outbox import Pump
from bridge.retry import RetrySchedule
from bridge.secrets_box import SecretBox
from bridge.signing import new_secret, webhook_id
from bridge.storage import BridgeStorage
from sandbox.server import SandboxServer
from tests.bridge_support import Clock, Receiver, storage_at
from tests.client_support import aligned_time
from tests.support import SandboxAdmin
from triggers.cursor import CursorState, SeenChanges
from triggers.polling.new_verdict import TRIGGER as NEW_VERDICT

MICROS = 1_000_000
START = int(wall_clock.time()) * MICROS
"""Made from the wall clock, which ``standardwebhooks`` reads when it checks a signature's age;
the worker itself reads only the injected ``Clock``."""


@pytest.fixture
def storage(tmp_path: Path) -> Iterator[BridgeStorage]:
    with storage_at(
        tmp_path / "bridge.sqlite", SecretBox.from_environment(tmp_path, environ={})
    ) as made:
        yield made


def subscription(
    target: str, number: int = 1, *, customer_id: str = "cus_test", fingerprint: str = "ab12cd34"
) -> Subscription:
    return Subscription(
        id=f"sub_{number:024x}",
        customer_id=customer_id,
        token_fingerprint=fingerprint,
        event="new_verdict",
        filters={},
        target_url=target,
        secret=new_secret(),
        created_at=0,
    )


def queue(storage: BridgeStorage, sub: Subscription, *item_ids: str) -> None:
    rows = [
        NewDelivery(
            subscription_id=sub.id,
            webhook_id=webhook_id(sub.id, item_id),
            event=sub.event,
            item={"id": item_id, "verdict": "spam"},
            timestamp=START - 60 * MICROS + n,
            item_id=item_id,
            created_at=START - 60 * MICROS,
        )
        for n, item_id in enumerate(item_ids)
    ]
    storage.commit("new_verdict:ab12cd34", CursorState.starting_at(0), SeenChanges(), rows)


def deliverer(storage: BridgeStorage, clock: Clock, **options: Any) -> Deliverer:
    return Deliverer(
        storage,
        allow_private_targets=True,
        clock_us=clock,
        schedule=RetrySchedule(jitter=0),
        **options,
    )


def test_a_delivery_is_signed_as_the_standard_webhooks_package_verifies(
    storage: BridgeStorage, receiver: Receiver
) -> None:
    sub = subscription(receiver.url)
    storage.add_subscription(sub)
    queue(storage, sub, "vrd_a")
    clock = Clock(START)
    assert deliverer(storage, clock).deliver_due().delivered == 1
    (got,) = receiver.received
    headers = {k.lower(): v for k, v in got.headers.items()}
    assert headers["webhook-id"] == webhook_id(sub.id, "vrd_a")
    assert int(headers["webhook-timestamp"]) == START // MICROS
    verified = Webhook(sub.secret).verify(got.body, headers)
    assert verified["data"]["id"] == "vrd_a"
    assert json.loads(got.body)["type"] == "new_verdict"


def test_a_receiver_failing_for_a_while_then_answering_gets_everything_in_order(
    storage: BridgeStorage, receiver: Receiver
) -> None:
    sub = subscription(receiver.url)
    storage.add_subscription(sub)
    queue(storage, sub, "vrd_1", "vrd_2", "vrd_3")
    receiver.script = [500, 503, 502]
    clock = Clock(START)
    worker = deliverer(storage, clock)
    for _ in range(20):
        worker.deliver_due()
        clock.now += 600 * MICROS  # past the first retries of the schedule
    ids = [json.loads(r.body)["data"]["id"] for r in receiver.received]
    assert ids[-3:] == ["vrd_1", "vrd_2", "vrd_3"], ids
    assert ids.count("vrd_1") == 4, "three failures, then delivered"
    assert {r.headers["webhook-id"] for r in receiver.received if "vrd_1" in r.body} == {
        webhook_id(sub.id, "vrd_1")
    }, "the same id on every attempt"
    current = storage.subscription("cus_test", sub.id)
    assert current is not None
    assert current.status is SubscriptionStatus.active
    attempts = storage.attempts("cus_test", sub.id, 10)
    assert [a.status_code for a in reversed(attempts)] == [500, 503, 502, 200, 200, 200]


def test_410_disables_the_subscription_at_once_and_keeps_its_rows(
    storage: BridgeStorage, receiver: Receiver
) -> None:
    sub = subscription(receiver.url)
    storage.add_subscription(sub)
    queue(storage, sub, "vrd_1", "vrd_2")
    receiver.script = [410]
    clock = Clock(START)
    report = deliverer(storage, clock).deliver_due()
    assert report.disabled == [sub.id]
    current = storage.subscription("cus_test", sub.id)
    assert current is not None
    assert current.status is SubscriptionStatus.disabled
    clock.now += 3600 * MICROS
    assert deliverer(storage, clock).deliver_due().attempted == 0
    assert storage.recover("cus_test", sub.id, 0, now=clock.now) == 2
    assert deliverer(storage, clock).deliver_due().delivered == 2


def test_a_redirect_is_a_failure_and_is_not_followed(
    storage: BridgeStorage, receiver: Receiver
) -> None:
    sub = subscription(receiver.url)
    storage.add_subscription(sub)
    queue(storage, sub, "vrd_1")
    receiver.script = [307]
    receiver.extra_headers = {"Location": "http://169.254.169.254/latest/meta-data"}
    report = deliverer(storage, Clock(START)).deliver_due()
    assert (report.attempted, report.delivered) == (1, 0)
    assert len(receiver.received) == 1
    (attempt,) = storage.attempts("cus_test", sub.id, 10)
    assert attempt.status_code == 307
    assert attempt.next_attempt_at is not None


def test_a_private_target_is_not_called_without_the_operators_flag(
    storage: BridgeStorage, receiver: Receiver
) -> None:
    sub = subscription(receiver.url)
    storage.add_subscription(sub)
    queue(storage, sub, "vrd_1")
    worker = Deliverer(storage, clock_us=Clock(START), schedule=RetrySchedule(jitter=0))
    assert worker.deliver_due().delivered == 0
    assert receiver.received == []
    (attempt,) = storage.attempts("cus_test", sub.id, 10)
    assert attempt.status_code is None
    assert "loopback" in attempt.excerpt


def test_from_the_sandbox_through_a_pump_to_receivers_each_item_once(
    roomy_sandbox: SandboxServer, storage: BridgeStorage, receiver: Receiver
) -> None:
    admin = SandboxAdmin(roomy_sandbox)
    account = admin.new_account(domains=("example.com",))
    time = aligned_time(admin)
    clock = Clock(int(time.clock() * MICROS))
    client = MxGuardClient(
        account.token, admin.base_url, rate_limit_db=":memory:", clock=time.clock, sleep=time.sleep
    )
    fingerprint = client.token.fingerprint
    subs = [
        subscription(receiver.url, n, customer_id=account.customer_id, fingerprint=fingerprint)
        for n in range(3)
    ]
    for sub in subs:
        storage.add_subscription(sub)
    pump = Pump(
        storage,
        trigger=NEW_VERDICT,
        fingerprint=client.token.fingerprint,
        client=client,
        clock_us=lambda: int(time.clock() * MICROS),
    )
    worker = deliverer(storage, clock)
    with client:
        pump.poll()
        time.sleep(10)
        admin.traffic(account, 120, spread_seconds=5, seed=11)
        for _ in range(3):
            time.sleep(60)
            pump.poll()
            clock.now = int(time.clock() * MICROS)
            while worker.deliver_due(limit=500).attempted:
                pass
    by_sub: dict[str, list[str]] = {}
    for got in receiver.received:
        data = json.loads(got.body)["data"]
        sub_id = next(
            s.id for s in subs if got.headers["webhook-id"] == webhook_id(s.id, data["id"])
        )
        by_sub.setdefault(sub_id, []).append(data["id"])
    assert set(by_sub) == {s.id for s in subs}
    for ids in by_sub.values():
        assert len(ids) == len(set(ids)) == 120
