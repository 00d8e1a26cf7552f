"""``mxguard bridge serve`` as a user runs it: one command, a subscription over its API, and
verified webhooks at a receiver for verdicts the sandbox publishes afterwards."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import requests

from bridge.signing import verify
from sandbox.server import SandboxServer, free_port
from tests.bridge_support import Receiver
from tests.support import SandboxAdmin

MXGUARD = [sys.executable, "-m", "connector"]


def wait_for(check: Callable[[], bool], timeout: float) -> None:
    """Until ``check()`` is true, polling the real clock (a real process is being watched)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    raise AssertionError(f"not within {timeout} s")


@pytest.mark.slow
def test_one_command_then_a_subscription_then_verified_webhooks(
    roomy_sandbox: SandboxServer, receiver: Receiver, tmp_path: Path
) -> None:
    admin = SandboxAdmin(roomy_sandbox)
    account = admin.new_account(domains=("example.com",))
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("MXGUARD_")}
    env["MXGUARD_API_URL"] = roomy_sandbox.base_url
    process = subprocess.Popen(
        [
            *MXGUARD,
            "bridge",
            "serve",
            "--port",
            str(port),
            "--data",
            str(tmp_path / "data"),
            "--interval",
            "1",
            "--allow-private-targets",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    bridge = f"http://127.0.0.1:{port}"
    auth = {"Authorization": f"Bearer {account.token}"}
    try:
        wait_for(lambda: _answers(f"{bridge}/openapi.json"), timeout=30)
        made = requests.post(
            f"{bridge}/v1/subscriptions",
            json={"event": "new_verdict", "target_url": receiver.url},
            headers=auth,
            timeout=10,
        )
        assert made.status_code == 201, made.text
        secret = made.json()["secret"]
        time.sleep(3)  # the pump's first round: it starts from now
        published = admin.traffic(account, 10, spread_seconds=1, seed=5)["created"]
        wait_for(lambda: len(receiver.received) >= published, timeout=30)
    finally:
        process.terminate()
        _, err = process.communicate(timeout=30)
    ids = [verify(secret, got.body, got.headers)["data"]["id"] for got in receiver.received]
    assert len(ids) == len(set(ids)) == published
    assert account.token not in err
    assert account.token.encode() not in (tmp_path / "data" / "bridge.sqlite").read_bytes()
    assert json.loads(receiver.received[0].body)["type"] == "new_verdict"


def _answers(url: str) -> bool:
    try:
        return requests.get(url, timeout=2).ok
    except requests.RequestException:
        return False
