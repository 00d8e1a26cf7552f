"""The exported package in a real n8n 2.41.1 (Node 24), against a sandbox in its own process.

* An action workflow (Manual Trigger -> MxGuard "Add Domain") runs under ``n8n execute``: the
  domain exists in the sandbox, and a second run answers "existing".
* A published workflow with the MxGuard Trigger (new verdict) runs under ``n8n start`` (polls at
  activation, then every minute) while the sandbox makes ties, bursts larger than a page and late
  arrivals between polls; n8n's executions must hold every verdict exactly once, none from before
  the activation, and a restart must add only what arrived while n8n was down.

Bounded: about 6 minutes (the look-back that finds late items runs every 120 s, and n8n polls at
most once a minute). Everything listens on 127.0.0.1; every process is stopped at the end.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from sandbox.launcher import SandboxProcess
from sandbox.server import free_port
from sandbox.simulation import SimulationClient
from sandbox.timefmt import format_us
from tests.n8n_real.n8n_process import N8N, NODE24, N8n, raw_output
from tests.test_export_n8n import build_package

TOKEN = "mxg_test_" + "n8nRealEndToEndCustomerToken".ljust(43, "x")
ADMIN = "mxg_test_" + "n8nRealEndToEndSandboxAdmin".ljust(43, "y")
CREDENTIAL = {"id": "mxgSandboxCredential", "name": "MxGuard sandbox"}
TRIGGER_NODE = "New verdict"
MICROS = 1_000_000
TIMINGS: dict[str, float] = {}


def _record(name: str, seconds: float) -> None:
    TIMINGS[name] = round(seconds, 1)
    print(f"[n8n timing] {name}: {TIMINGS[name]} s", flush=True)


def _timed(name: str, began: float) -> None:
    _record(name, time.monotonic() - began)


class Sandbox:
    """The sandbox process: its public API with the customer token, its /_sandbox/ API."""

    def __init__(self, simulation: SimulationClient) -> None:
        self.simulation = simulation
        self.base_url = simulation.base_url

    def public(self, method: str, path: str) -> requests.Response:
        return self.simulation.public(TOKEN, method, path)

    def now(self) -> int:
        return self.simulation.now_us()

    def add(self, *verdicts: dict[str, Any]) -> list[str]:
        self.simulation.add_verdicts(None, [{"domain": "example.com", **v} for v in verdicts])
        return [v["id"] for v in verdicts]


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    process = SandboxProcess(
        seed="empty",
        token=TOKEN,
        admin_token=ADMIN,
        rate_per_minute=100_000,
        rate_per_hour=1_000_000,
        log=tmp_path_factory.mktemp("sandbox") / "sandbox.log",
    )
    with process as simulation:
        running = Sandbox(simulation)
        added = running.simulation.public(
            TOKEN, "POST", "/domains", {"domain": "example.com", "real_mx_host": "mail.example.com"}
        )
        assert added.status_code == 201, added.text
        yield running


@pytest.fixture(scope="module")
def n8n(tmp_path_factory: pytest.TempPathFactory, sandbox: Sandbox) -> Iterator[N8n]:
    if not (N8N.exists() and (NODE24 / "node").exists()):
        pytest.fail("n8n is not installed: run tools/n8n-run/install.sh", pytrace=False)
    work = tmp_path_factory.mktemp("n8n")
    began = time.monotonic()
    package = build_package(work / "n8n-nodes-mxguard")
    subprocess.run(
        ["npm", "pack", "--pack-destination", str(work)], cwd=package, check=True,
        capture_output=True, timeout=120,
    )  # fmt: skip
    home = work / "home"
    nodes = home / ".n8n" / "nodes"
    nodes.mkdir(parents=True)
    (nodes / "package.json").write_text('{"name": "installed-nodes", "private": true}\n')
    subprocess.run(
        ["npm", "install", "--ignore-scripts", "--legacy-peer-deps", "--no-audit", "--no-fund",
         str(next(work.glob("n8n-nodes-mxguard-*.tgz")))],
        cwd=nodes, check=True, capture_output=True, timeout=300,
    )  # fmt: skip
    _timed("export, build, pack, install into ~/.n8n/nodes", began)
    instance = N8n(home, free_port(), free_port())
    credentials = [
        {**CREDENTIAL, "type": "mxGuardApi",
         "data": {"baseUrl": sandbox.base_url, "apiToken": TOKEN}}
    ]  # fmt: skip
    (work / "credentials.json").write_text(json.dumps(credentials))
    began = time.monotonic()
    instance.cli("import:credentials", f"--input={work / 'credentials.json'}")
    _timed("n8n import:credentials (first run migrates the database)", began)
    yield instance
    instance.stop()


def _workflow(work: Path, workflow_id: str, name: str, nodes: list[dict[str, Any]],
              connections: dict[str, Any]) -> Path:  # fmt: skip
    path = work / f"{workflow_id}.json"
    document = {
        "id": workflow_id, "name": name, "active": False,
        "settings": {"executionOrder": "v1"}, "nodes": nodes, "connections": connections,
    }  # fmt: skip
    path.write_text(json.dumps([document]))
    return path


def test_action_workflow_adds_a_domain(n8n: N8n, sandbox: Sandbox, tmp_path: Path) -> None:
    nodes = [
        {"id": "6f1d2c3a-0000-4000-8000-000000000001", "name": "Start",
         "type": "n8n-nodes-base.manualTrigger", "typeVersion": 1, "position": [0, 0],
         "parameters": {}},
        {"id": "6f1d2c3a-0000-4000-8000-000000000002", "name": "Add domain",
         "type": "n8n-nodes-mxguard.mxGuard", "typeVersion": 1, "position": [220, 0],
         "parameters": {"resource": "domain", "operation": "addDomain",
                        "domain": "Bücher.example", "realMxHost": "mail.example.com"},
         "credentials": {"mxGuardApi": CREDENTIAL}},
    ]  # fmt: skip
    connections = {"Start": {"main": [[{"node": "Add domain", "type": "main", "index": 0}]]}}
    workflow = _workflow(tmp_path, "mxgAddDomainWorkflow", "Add domain", nodes, connections)
    n8n.cli("import:workflow", f"--input={workflow}")
    outcomes = []
    for _ in range(2):
        began = time.monotonic()
        result = raw_output(n8n.cli("execute", "--id=mxgAddDomainWorkflow", "--rawOutput").stdout)
        _timed("n8n execute (action workflow)", began)
        assert result["status"] == "success", result
        output = result["data"]["resultData"]["runData"]["Add domain"][0]["data"]["main"][0]
        assert len(output) == 1
        outcomes.append(output[0]["json"]["outcome"])
        assert output[0]["json"]["domain"] == "xn--bcher-kva.example"
    assert outcomes == ["created", "existing"]
    assert sandbox.public("GET", "/domains/xn--bcher-kva.example").status_code == 200


def _wait_for(n8n: N8n, workflow_id: str, expected: set[str], deadline: float) -> list[str]:
    while True:
        emitted = n8n.emitted(workflow_id, TRIGGER_NODE)
        if expected <= set(emitted) or time.monotonic() > deadline:
            return emitted
        time.sleep(2)


def test_trigger_emits_every_verdict_once(n8n: N8n, sandbox: Sandbox, tmp_path: Path) -> None:
    workflow_id = "mxgNewVerdictTrigger"
    nodes = [
        {"id": "6f1d2c3a-0000-4000-8000-000000000011", "name": TRIGGER_NODE,
         "type": "n8n-nodes-mxguard.mxGuardTrigger", "typeVersion": 1, "position": [0, 0],
         "parameters": {"pollTimes": {"item": [{"mode": "everyMinute"}]},
                        "event": "newVerdict", "options": {}},
         "credentials": {"mxGuardApi": CREDENTIAL}},
    ]  # fmt: skip
    workflow = _workflow(tmp_path, workflow_id, "New verdicts", nodes, {})
    n8n.cli("import:workflow", f"--input={workflow}")
    n8n.cli("publish:workflow", f"--id={workflow_id}")
    old = sandbox.add({"id": "old_1"}, {"id": "old_2"})

    began = time.monotonic()
    _record("n8n start until the editor is up", n8n.start())
    while n8n.static_data(workflow_id) is None:  # saved after the activation poll
        assert time.monotonic() - began < 120, "the trigger was not activated"
        time.sleep(0.5)
    _timed("n8n start until the activation poll saved its cursor", began)
    started = time.monotonic()
    time.sleep(1)
    now = sandbox.now()
    ties = [{"id": f"tie_{n:03d}", "scanned_at": format_us(now)} for n in range(40)]
    burst = [{"id": f"burst_{n:04d}", "scanned_at": format_us(now - MICROS + n * 700)}
             for n in range(1100)]  # fmt: skip
    # Behind the items above, visible 70 s late: only a look-back can find them.
    late = [{"id": f"late_{n}", "scanned_at": format_us(now - MICROS // 2),
             "visible_after_seconds": 70} for n in range(3)]  # fmt: skip
    expected = set(sandbox.add(*ties, *burst, *late))

    first = _wait_for(n8n, workflow_id, {"tie_000"}, time.monotonic() + 90)
    assert "tie_000" in first, "no poll after activation within 90 s"
    now = sandbox.now()
    more_ties = [{"id": f"tie2_{n:03d}", "scanned_at": format_us(now)} for n in range(25)]
    more = [{"id": f"burst2_{n:04d}", "scanned_at": format_us(now - MICROS + n * 1500)}
            for n in range(600)]  # fmt: skip
    expected |= set(sandbox.add(*more_ties, *more))
    emitted = _wait_for(n8n, workflow_id, expected, started + 330)
    _timed("trigger: all verdicts out (ties, bursts, late arrivals)", started)
    missing = expected - set(emitted)
    assert not missing, f"never emitted: {sorted(missing)[:10]} ({len(missing)} in all)"

    n8n.stop()
    expected |= set(sandbox.add({"id": "while_down"}))
    began = time.monotonic()
    n8n.start()
    emitted = _wait_for(n8n, workflow_id, expected, time.monotonic() + 60)
    _timed("restart until the item that arrived while down came out", began)
    time.sleep(3)
    emitted = n8n.emitted(workflow_id, TRIGGER_NODE)
    n8n.stop()

    polls = n8n.polls(workflow_id, TRIGGER_NODE)
    first_poll = next(i for i, ids in enumerate(polls) if "tie_000" in ids)
    late_poll = next(i for i, ids in enumerate(polls) if "late_0" in ids)
    assert late_poll > first_poll, "the late items should come out after newer ones"
    repeated = {item: count for item, count in Counter(emitted).items() if count > 1}
    assert not repeated, f"emitted more than once: {sorted(repeated)[:10]}"
    assert set(emitted) == expected
    assert not set(old) & set(emitted)
    print(f"[n8n timing] all: {json.dumps(TIMINGS)}", flush=True)
