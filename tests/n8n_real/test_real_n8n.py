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
import time
from collections import Counter
from pathlib import Path

from sandbox.timefmt import format_us
from tests.n8n_real.n8n_process import (
    CREDENTIAL,
    MICROS,
    TIMINGS,
    N8n,
    Sandbox,
    raw_output,
    record,
    timed,
    workflow_file,
)

TRIGGER_NODE = "New verdict"


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
    workflow = workflow_file(tmp_path, "mxgAddDomainWorkflow", "Add domain", nodes, connections)
    n8n.cli("import:workflow", f"--input={workflow}")
    outcomes = []
    for _ in range(2):
        began = time.monotonic()
        result = raw_output(n8n.cli("execute", "--id=mxgAddDomainWorkflow", "--rawOutput").stdout)
        timed("n8n execute (action workflow)", began)
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
    workflow = workflow_file(tmp_path, workflow_id, "New verdicts", nodes, {})
    n8n.cli("import:workflow", f"--input={workflow}")
    n8n.cli("publish:workflow", f"--id={workflow_id}")
    old = sandbox.add({"id": "old_1"}, {"id": "old_2"})

    began = time.monotonic()
    record("n8n start until the editor is up", n8n.start())
    while n8n.static_data(workflow_id) is None:  # saved after the activation poll
        assert time.monotonic() - began < 120, "the trigger was not activated"
        time.sleep(0.5)
    timed("n8n start until the activation poll saved its cursor", began)
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
    timed("trigger: all verdicts out (ties, bursts, late arrivals)", started)
    missing = expected - set(emitted)
    assert not missing, f"never emitted: {sorted(missing)[:10]} ({len(missing)} in all)"

    n8n.stop()
    expected |= set(sandbox.add({"id": "while_down"}))
    began = time.monotonic()
    n8n.start()
    emitted = _wait_for(n8n, workflow_id, expected, time.monotonic() + 60)
    timed("restart until the item that arrived while down came out", began)
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
