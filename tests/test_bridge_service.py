"""The bridge's rounds against the sandbox and a loopback receiver: every stream polled once a
round, whatever is due delivered, one stream's trouble not stopping the others."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from api_client import MxGuardClient
from bridge.delivery import Deliverer
from bridge.models import Subscription
from bridge.retry import RetrySchedule
from bridge.secrets_box import SecretBox
from bridge.service import BridgeService
from bridge.signing import new_secret
from bridge.storage import BridgeStorage
from sandbox.server import SandboxServer
from tests.bridge_support import Receiver, storage_at
from tests.client_support import aligned_time
from tests.support import Account, SandboxAdmin, SandboxTime
from triggers.polling.new_quarantined_message import TRIGGER as NEW_QUARANTINED_MESSAGE
from triggers.polling.new_verdict import TRIGGER as NEW_VERDICT

MICROS = 1_000_000
TRIGGERS = {t.key: t for t in (NEW_VERDICT, NEW_QUARANTINED_MESSAGE)}


@pytest.fixture
def storage(tmp_path: Path) -> Iterator[BridgeStorage]:
    with storage_at(
        tmp_path / "bridge.sqlite", SecretBox.from_environment(tmp_path, environ={})
    ) as made:
        yield made


def service_for(storage: BridgeStorage, admin: SandboxAdmin, time: SandboxTime) -> BridgeService:
    def client(token: str) -> MxGuardClient:
        return MxGuardClient(
            token, admin.base_url, rate_limit_db=":memory:", clock=time.clock, sleep=time.sleep
        )

    def now() -> int:
        return int(time.clock() * MICROS)

    deliverer = Deliverer(
        storage, allow_private_targets=True, clock_us=now, schedule=RetrySchedule(jitter=0)
    )
    return BridgeService(
        storage, triggers=TRIGGERS, client_factory=client, deliverer=deliverer, clock_us=now
    )


def subscribe(
    storage: BridgeStorage, account: Account, token: str, event: str, target: str, n: int
) -> Subscription:
    fingerprint = MxGuardClient(token, "http://127.0.0.1:9", rate_limit_db=":memory:").token
    sub = Subscription(
        id=f"sub_{n:024x}",
        customer_id=account.customer_id,
        token_fingerprint=fingerprint.fingerprint,
        event=event,
        filters={},
        target_url=target,
        secret=new_secret(),
        created_at=0,
    )
    storage.put_token(account.customer_id, fingerprint.fingerprint, token)
    storage.add_subscription(sub)
    return sub


def test_each_stream_is_polled_once_a_round_and_its_items_delivered(
    roomy_sandbox: SandboxServer, storage: BridgeStorage, receiver: Receiver
) -> None:
    admin = SandboxAdmin(roomy_sandbox)
    account = admin.new_account(domains=("example.com",))
    time = aligned_time(admin)
    for n, event in enumerate([NEW_VERDICT.key, NEW_VERDICT.key, NEW_QUARANTINED_MESSAGE.key]):
        subscribe(storage, account, account.token, event, receiver.url, n)
    service = service_for(storage, admin, time)
    try:
        first = service.run_round()
        assert sorted(first.polled) == sorted({f"{e}:{k}" for e, k in _streams(storage)})
        time.sleep(10)
        made = admin.traffic(account, 40, spread_seconds=5, seed=3)
        time.sleep(60)
        second = service.run_round()
    finally:
        service.close()
    assert second.failed == {}
    verdicts = [json.loads(r.body) for r in receiver.received if '"new_verdict"' in r.body]
    assert len(verdicts) == 2 * made["created"], "two subscriptions, each item once each"
    assert second.delivery.delivered == len(receiver.received)


def test_a_stream_whose_token_was_revoked_is_reported_and_the_others_go_on(
    roomy_sandbox: SandboxServer, storage: BridgeStorage, receiver: Receiver
) -> None:
    admin = SandboxAdmin(roomy_sandbox)
    good = admin.new_account(domains=("example.com",))
    gone = admin.new_account(domains=("example.com",))
    time = aligned_time(admin)
    subscribe(storage, good, good.token, NEW_VERDICT.key, receiver.url, 1)
    subscribe(storage, gone, gone.token, NEW_VERDICT.key, receiver.url, 2)
    admin.revoke(gone)
    service = service_for(storage, admin, time)
    try:
        report = service.run_round()
    finally:
        service.close()
    assert len(report.polled) == 1
    (why,) = report.failed.values()
    assert "401" in why
    assert gone.token not in why


def _streams(storage: BridgeStorage) -> list[tuple[str, str]]:
    return [(event, fingerprint) for fingerprint, event in storage.streams()]
