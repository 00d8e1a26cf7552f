"""The bridge's rounds against the sandbox and a loopback receiver: every stream polled once a
round, whatever is due delivered, one stream's trouble not stopping the others."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from bridge.secrets_box import SecretBox
from bridge.storage import BridgeStorage
from sandbox.server import SandboxServer
from tests.bridge_support import Receiver, service_for, storage_at, subscribe
from tests.client_support import aligned_time
from tests.support import SandboxAdmin
from triggers.polling.new_quarantined_message import TRIGGER as NEW_QUARANTINED_MESSAGE
from triggers.polling.new_verdict import TRIGGER as NEW_VERDICT

MICROS = 1_000_000


@pytest.fixture
def storage(tmp_path: Path) -> Iterator[BridgeStorage]:
    with storage_at(
        tmp_path / "bridge.sqlite", SecretBox.from_environment(tmp_path, environ={})
    ) as made:
        yield made


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
