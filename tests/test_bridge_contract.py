"""The bridge conforms to its own OpenAPI document: schemathesis, over real HTTP, with a real
customer's token.

Why a running bridge and a real token: every route of the bridge first asks MxGuard (here the
sandbox) whose the token is, so without a valid one schemathesis would only ever see 401s and
test nothing past authentication. The app runs with private targets allowed and a resolver that
answers a public address for any name (no DNS), so that schemathesis's generated target URLs can
make valid subscriptions and the routes behind them (one subscription, its deliveries, recover,
unsubscribe) are reached with ids that exist.

Run as a subprocess, as ``tests/test_contract.py`` runs it against the sandbox: the CLI is the
supported interface of schemathesis, and libfaketime is kept away from it (``_without_faketime``).
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from api_client import MxGuardClient
from bridge.api import create_app
from bridge.secrets_box import SecretBox
from sandbox.server import LoopbackServer, SandboxServer
from tests.bridge_support import Clock, open_storage, public_resolver
from tests.support import SandboxAdmin
from tests.test_bridge_api import GOOD_SECRET, START, TARGET, TRIGGERS
from tests.test_contract import _without_faketime

MAX_EXAMPLES = 50
"""Per operation and phase: enough for the stateful phase to follow every link it infers (from
a subscription made to its routes), bounded so the run takes seconds."""
SEED = "20261123"
LEAST_CASES = 500
"""Fewer generated cases than this would mean schemathesis did not really exercise the API."""
LOOPBACK_TARGET = "http://127.0.0.1:9/hooks/mxguard"
"""A private target: accepted because the app allows them (nothing is delivered here)."""

CONFIG = f"""
# Valid values offered, most of the time, for the fields whose rules the document does not
# state, so that generated subscriptions are accepted and the routes of one that exists are
# reached (the stateful phase follows the links it infers from the 201's Location).
[dictionaries.targets]
values = ["{TARGET}", "{LOOPBACK_TARGET}"]

[dictionaries.secrets]
values = ["{GOOD_SECRET}"]

[[operations]]
include-method = "POST"
include-path = "/v1/subscriptions"

[operations.parameters]
"body.target_url" = {{ dictionary = "targets", probability = 0.8 }}
"body.secret" = {{ dictionary = "secrets", probability = 0.8 }}

# Schema-valid data can still be refused here with the documented 422: a target URL is checked
# against address rules that depend on DNS at the time (no schema can state them), and the
# filters' shape depends on the event. Only for this operation is 422 an acceptable answer to
# schema-valid data; every other check and operation keeps schemathesis's defaults.
[operations.checks.positive_data_acceptance]
expected-statuses = ["2xx", "3xx", "401", "403", "404", "409", "422", "429", "5xx"]
"""


@pytest.fixture
def bridge_url(tmp_path: Path, roomy_sandbox: SandboxServer) -> Iterator[str]:
    """A bridge API on a loopback port, against a sandbox whose rate limits do not matter (the
    samples route costs an MxGuard request per call)."""
    storage = open_storage(
        tmp_path / "bridge.sqlite", SecretBox.from_environment(tmp_path, environ={})
    )
    app = create_app(
        storage,
        triggers=TRIGGERS,
        client_factory=lambda token: MxGuardClient(
            token, roomy_sandbox.base_url, rate_limit_db=":memory:"
        ),
        clock_us=Clock(START),
        allow_private_targets=True,
        resolve=public_resolver,
    )
    server = LoopbackServer(app, name="the bridge").start()
    try:
        yield server.base_url
    finally:
        server.stop()
        storage.close()


@pytest.mark.slow
def test_schemathesis_finds_no_failure_in_the_bridge(
    bridge_url: str, roomy_sandbox: SandboxServer, tmp_path: Path
) -> None:
    """Every check schemathesis has (no 500, answers as documented, bad input refused, missing
    authentication refused...), on every operation, a bounded number of examples; and the
    stateful phase reached subscriptions that exist."""
    account = SandboxAdmin(roomy_sandbox).new_account(domains=("example.com",))
    config = tmp_path / "schemathesis.toml"
    config.write_text(CONFIG)
    command = [
        str(Path(sys.executable).with_name("schemathesis")),
        "--config-file",
        str(config),
        "run",
        f"{bridge_url}/openapi.json",
        "--url",
        bridge_url,
        "-H",
        f"Authorization: Bearer {account.token}",
        "--checks",
        "all",
        "--max-examples",
        str(MAX_EXAMPLES),
        "--workers",
        "1",
        "--seed",
        SEED,
        "--no-color",
    ]
    result = subprocess.run(
        command, capture_output=True, text=True, timeout=120, check=False, env=_without_faketime()
    )
    summary = result.stdout[-3000:]
    assert result.returncode == 0, result.stdout[-12000:]
    counts = re.search(r"(\d+) generated, (\d+) passed", summary)
    assert counts is not None, summary
    assert counts[1] == counts[2], summary
    assert int(counts[1]) > LEAST_CASES, summary
    links = re.search(r"API Links:\s+(\d+) covered / (\d+) selected", result.stdout)
    assert links is not None, result.stdout[-12000:]
    assert int(links[1]) > 0, "no subscription was made, so its routes were never reached"
