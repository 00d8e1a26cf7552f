"""The MxGuard Instant Trigger in a real n8n 2.41.1, fed by a real bridge (``mxguard bridge serve``)
polling the sandbox.

A workflow with the instant trigger (New Verdict, filtered to one domain) and a credential that
carries the bridge's URL is activated over n8n's REST API while ``n8n start`` runs:

* activation subscribes n8n's production webhook URL on the bridge (127.0.0.1: the bridge runs
  with ``--allow-private-targets``), with the node's filters and the secret n8n generated;
* verdicts published in the sandbox afterwards arrive through the bridge as n8n executions, each
  matching one exactly once (the bridge's delivery log shows one successful attempt each and
  nothing left to retry), the others not at all;
* a request with a bad signature, or with the node's real signature replayed outside the time
  tolerance, is answered 401 and starts nothing;
* deactivating the workflow deletes the subscription on the bridge;
* a workflow whose credential has no bridge URL fails to activate, with n8n showing why.

Bounded: each wait has a timeout; about a minute besides n8n's start. Everything listens on
127.0.0.1; every process is stopped at the end.
"""

from __future__ import annotations

import base64
import json
import secrets
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import requests

from bridge.signing import body as delivery_body
from bridge.signing import signed_headers
from sandbox.simulation import SandboxAccount
from tests.bridge_live import LiveBridge, wait_for
from tests.n8n_real.n8n_process import TIMINGS, N8n, N8nRest, Sandbox, record, timed

NODE = "New verdict (instant)"
WORKFLOW = "mxgInstantVerdicts"
NO_BRIDGE_WORKFLOW = "mxgInstantNoBridge"
WEBHOOK_ID = "8d3c5a1e-7b2f-4c6d-9e0a-1f2b3c4d5e6f"
WAIT_S = 90


def _instant_workflow(workflow_id: str, credential: dict[str, str], webhook_id: str) -> Any:
    node = {
        "id": f"{webhook_id[:-4]}0001", "name": NODE, "webhookId": webhook_id,
        "type": "n8n-nodes-mxguard.mxGuardInstantTrigger", "typeVersion": 1, "position": [0, 0],
        "parameters": {"event": "newVerdictInstant", "domain": "example.com"},
        "credentials": {"mxGuardApi": credential},
    }  # fmt: skip
    return [
        {"id": workflow_id, "name": f"Instant verdicts ({workflow_id})", "active": False,
         "settings": {"executionOrder": "v1"}, "nodes": [node], "connections": {}}
    ]  # fmt: skip


def _credential(cred_id: str, sandbox: Sandbox, account: SandboxAccount, bridge: str) -> Any:
    data = {"baseUrl": sandbox.base_url, "apiToken": account.token, "bridgeUrl": bridge}
    return {"id": cred_id, "name": f"MxGuard ({cred_id})", "type": "mxGuardApi", "data": data}


def _subscriptions(bridge: LiveBridge, account: SandboxAccount, target: str) -> list[Any]:
    answer = requests.get(
        f"{bridge.url}/v1/subscriptions", params={"target_url": target},
        headers={"Authorization": f"Bearer {account.token}"}, timeout=10,
    )  # fmt: skip
    assert answer.status_code == 200, answer.text
    found: list[Any] = answer.json()["data"]
    return found


def _settled(rest: N8nRest, workflow_id: str) -> Callable[[], bool]:
    return lambda: rest.publication(workflow_id)["status"] != "in_progress"


def _node_state(n8n: N8n, workflow_id: str) -> dict[str, Any]:
    """The instant node's static data, as n8n saved it in its database."""
    saved = n8n.static_data(workflow_id) or {}
    state: dict[str, Any] = saved.get(f"node:{NODE}", {})
    return state


def test_instant_trigger_through_a_real_bridge(n8n: N8n, sandbox: Sandbox, tmp_path: Path) -> None:
    account = sandbox.simulation.new_account(domains=("example.com", "b.example"))
    with LiveBridge(sandbox.base_url, tmp_path / "bridge") as bridge:
        with_bridge = _credential("mxgInstantCredential", sandbox, account, bridge.url)
        no_bridge = _credential("mxgNoBridgeCredential", sandbox, account, "")
        n8n.import_json("credentials", [with_bridge, no_bridge], tmp_path)
        short = {"id": with_bridge["id"], "name": with_bridge["name"]}
        n8n.import_json("workflow", _instant_workflow(WORKFLOW, short, WEBHOOK_ID), tmp_path)
        other = {"id": no_bridge["id"], "name": no_bridge["name"]}
        second_hook = WEBHOOK_ID[:-1] + "0"
        n8n.import_json("workflow", _instant_workflow(NO_BRIDGE_WORKFLOW, other, second_hook),
                        tmp_path)  # fmt: skip
        webhook_url = f"{n8n.url}/webhook/{WEBHOOK_ID}/webhook"

        began = time.monotonic()
        record("n8n start until the editor is up", n8n.start())
        try:
            rest = N8nRest(n8n).setup()

            # No bridge URL in the credential: the activation fails and says why.
            rest.activate(NO_BRIDGE_WORKFLOW)
            wait_for(_settled(rest, NO_BRIDGE_WORKFLOW), WAIT_S, "the failed activation")
            failed = rest.publication(NO_BRIDGE_WORKFLOW)
            assert failed["status"] == "failed", failed
            assert "has no Bridge URL" in json.dumps(failed["triggers"]), failed

            # Activation subscribes the production webhook URL, with the node's filters.
            began = time.monotonic()
            rest.activate(WORKFLOW)
            wait_for(_settled(rest, WORKFLOW), WAIT_S, "the activation")
            assert rest.publication(WORKFLOW)["status"] == "published"
            timed("activation over REST until the bridge subscription exists", began)
            (subscription,) = _subscriptions(bridge, account, webhook_url)
            assert subscription["event"] == "new_verdict"
            assert subscription["filters"]["domain"] == "example.com"
            wait_for(lambda: "subscriptionId" in _node_state(n8n, WORKFLOW), 30, "static data")
            state = _node_state(n8n, WORKFLOW)
            assert state["subscriptionId"] == subscription["id"]
            assert state["secret"].startswith("whsec_")

            # Verdicts published now come through the bridge, each matching one exactly once.
            served = sandbox.simulation.requests_served(account)["total"]
            wait_for(lambda: sandbox.simulation.requests_served(account)["total"] > served,
                     WAIT_S, "the bridge's first poll of the account")  # fmt: skip
            began = time.monotonic()
            wanted = [{"id": f"inst_{n:02d}", "domain": "example.com"} for n in range(12)]
            others = [{"id": f"other_{n}", "domain": "b.example"} for n in range(4)]
            sandbox.simulation.add_verdicts(account, wanted + others)
            expected = {v["id"] for v in wanted}

            def finished() -> list[dict[str, Any]]:
                return [e for e in rest.executions(WORKFLOW) if e["status"] == "success"]

            wait_for(lambda: len(finished()) >= len(expected), WAIT_S, "the executions")
            timed(f"{len(expected)} verdicts: published until n8n ran them all", began)
            attempts = requests.get(
                f"{bridge.url}/v1/subscriptions/{subscription['id']}/deliveries",
                params={"limit": 100}, timeout=10,
                headers={"Authorization": f"Bearer {account.token}"},
            ).json()["data"]  # fmt: skip
            assert len(attempts) == len(expected), attempts
            assert all(a["status_code"] == 200 and a["next_retry_at"] is None for a in attempts)
            executions = rest.executions(WORKFLOW)
            assert all(e["status"] == "success" and e["mode"] == "webhook" for e in executions)
            emitted = [item for e in executions for item in rest.execution_items(e["id"], NODE)]
            ids = [item["id"] for item in emitted]
            assert Counter(ids) == Counter(expected), sorted(ids)
            assert all(item["domain"] == "example.com" for item in emitted)
            polled = sandbox.simulation.public(account, "GET", "/verdicts?domain=example.com")
            assert sorted(emitted, key=lambda i: i["id"]) == sorted(
                polled.json()["data"], key=lambda i: i["id"]
            )

            # Forged or replayed requests: 401, and no execution.
            forged = delivery_body("new_verdict", datetime.now(UTC), {**emitted[0], "id": "forged"})
            wrong_key = "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()
            replayed = datetime.now(UTC) - timedelta(seconds=301)
            for headers in (
                signed_headers(wrong_key, "msg_forged", datetime.now(UTC), forged),
                signed_headers(state["secret"], "msg_replayed", replayed, forged),
                {"content-type": "application/json"},
            ):
                answer = requests.post(webhook_url, data=forged, headers=headers, timeout=30)
                assert answer.status_code == 401, answer.text
            assert len(rest.executions(WORKFLOW)) == len(expected)

            # Deactivation deletes the subscription on the bridge.
            began = time.monotonic()
            rest.deactivate(WORKFLOW)
            wait_for(lambda: not _subscriptions(bridge, account, webhook_url), WAIT_S,
                     "the subscription's deletion")  # fmt: skip
            timed("deactivation over REST until the bridge subscription is gone", began)
            wait_for(lambda: _node_state(n8n, WORKFLOW) == {}, 30, "static data cleared")
        finally:
            n8n.stop()
    assert account.token not in bridge.stderr
    assert account.token not in n8n.log.read_text(errors="replace")
    print(f"[n8n timing] all: {json.dumps(TIMINGS)}", flush=True)
