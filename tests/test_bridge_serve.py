"""``mxguard bridge serve`` as a user runs it: one command, a subscription over its API, and
verified webhooks at a receiver for verdicts the sandbox publishes afterwards."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import requests

from bridge.signing import verify
from sandbox.server import SandboxServer
from tests.bridge_live import LiveBridge, wait_for
from tests.bridge_support import Receiver, stored_bytes
from tests.support import SandboxAdmin


@pytest.mark.slow
def test_one_command_then_a_subscription_then_verified_webhooks(
    roomy_sandbox: SandboxServer, receiver: Receiver, tmp_path: Path
) -> None:
    admin = SandboxAdmin(roomy_sandbox)
    account = admin.new_account(domains=("example.com",))
    with LiveBridge(roomy_sandbox.base_url, tmp_path / "data") as bridge:
        auth = {"Authorization": f"Bearer {account.token}"}
        made = requests.post(
            f"{bridge.url}/v1/subscriptions",
            json={"event": "new_verdict", "target_url": receiver.url},
            headers=auth,
            timeout=10,
        )
        assert made.status_code == 201, made.text
        secret = made.json()["secret"]
        time.sleep(3)  # the pump's first round: it starts from now
        published = admin.traffic(account, 10, spread_seconds=1, seed=5)["created"]
        wait_for(lambda: len(receiver.received) >= published, timeout=30)
    ids = [verify(secret, got.body, got.headers)["data"]["id"] for got in receiver.received]
    assert len(ids) == len(set(ids)) == published
    assert account.token not in bridge.stderr
    assert account.token.encode() not in stored_bytes(tmp_path / "data" / "bridge.sqlite")
    assert json.loads(receiver.received[0].body)["type"] == "new_verdict"
