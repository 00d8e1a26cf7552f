"""The Zapier export's instant triggers (REST hooks through the bridge), run by
zapier-platform-core's ``createAppTester`` against a real bridge (``mxguard bridge serve``)
polling a live sandbox.

A local receiver stands in for Zapier's webhook URL (``bundle.targetUrl``): what the bridge POSTs
to it is handed to the hook trigger's ``perform`` as Zapier hands a request over, in
``bundle.rawRequest`` (headers in Camel-Case, ``Http-`` prefixed but for Content-Type and
Content-Length: https://docs.zapier.com/integrations/build-cli/core, "bundle.rawRequest").

Needs Node 20+ and the pinned Zapier packages (``npm ci --prefix tools/zapier``), as
``tests/test_export_zapier.py``, whose harness this module reuses.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests

from bridge.signing import new_secret, signed_headers
from connector.manifest import files
from connector.manifest.format import Operation
from sandbox.server import SandboxServer, free_port
from tests.bridge_live import LiveBridge, wait_for
from tests.bridge_support import Received, Receiver
from tests.support import Account, SandboxAdmin
from tests.test_export_zapier import MANIFESTS, ZapierApp, export_to, node, node_env

CONNECTOR = files.load_connector(MANIFESTS)
TRIGGERS = [op for op in files.load_operations(MANIFESTS) if op.kind == "trigger"]
VERDICT = next(op for op in TRIGGERS if op.key == "new_verdict")
DELIVERY_TIMEOUT_S = 30.0
REFUSED = "Ignored a request to this Zap's webhook URL: "
UNKNOWN_TOKEN = "mxg_test_" + "B" * 43  # well formed, never issued


def hook(op: Operation, function: str) -> str:
    """The path of one of a hook trigger's functions, e.g. ``triggers.new_verdict_instant...``."""
    assert op.instant is not None
    return f"triggers.{op.instant.key}.operation.{function}"


def zapier_request(received: Received, zapier_names: bool = True) -> dict[str, Any]:
    """A received delivery as ``bundle.rawRequest`` holds it. With ``zapier_names``, headers are
    named as Zapier's docs say (``webhook-id`` becomes ``Http-Webhook-Id``); else as sent."""
    headers = {}
    for name, value in received.headers.items():
        camel = "-".join(part.capitalize() for part in name.split("-"))
        if not zapier_names:
            headers[name] = value
        elif camel in ("Content-Type", "Content-Length"):
            headers[camel] = value
        else:
            headers[f"Http-{camel}"] = value
    return {"method": "POST", "querystring": "", "headers": headers, "content": received.body}


class Instant:
    """The exported app in node, the live bridge and the sandbox, for one test module."""

    def __init__(
        self, export: Path, zap: ZapierApp, bridge: LiveBridge, admin: SandboxAdmin
    ) -> None:
        self.export = export
        self.zap = zap
        self.bridge = bridge
        self.admin = admin
        self.tokens: list[str] = []

    def account(self, domains: tuple[str, ...] = ("example.com",)) -> Account:
        made = self.admin.new_account(domains=domains)
        self.tokens.append(made.token)
        return made

    def call(
        self,
        method: str,
        token: str,
        inputs: dict[str, Any] | None = None,
        bridge_url: str | None = "",
        **bundle: Any,
    ) -> dict[str, Any]:
        """One call through ``createAppTester``; ``bridge_url`` "" is this bridge, None none."""
        auth = {"api_token": token}
        if bridge_url is not None:
            auth["bridge_url"] = bridge_url or self.bridge.url
        answer = self.zap.call(method, token, inputs, authData=auth, **bundle)
        assert token not in json.dumps(answer), method
        return answer

    def ok(
        self, method: str, token: str, inputs: dict[str, Any] | None = None, **bundle: Any
    ) -> Any:
        answer = self.call(method, token, inputs, **bundle)
        assert answer["ok"], (method, answer)
        return answer["result"]

    def error(
        self, method: str, token: str, inputs: dict[str, Any] | None = None, **bundle: Any
    ) -> dict[str, Any]:
        answer = self.call(method, token, inputs, **bundle)
        assert not answer["ok"], (method, answer)
        error: dict[str, Any] = answer["error"]
        return error

    def on_bridge(self, account: Account, path: str) -> requests.Response:
        """A GET on the bridge's API as the account's token."""
        return requests.get(
            f"{self.bridge.url}{path}",
            headers={"Authorization": f"Bearer {account.token}"},
            timeout=10,
        )

    def polled(self, account: Account, op: Operation) -> int:
        """Requests for the trigger's listing the sandbox served to the account's token."""
        route = f"{op.request.method} {op.request.path}"
        return self.admin.requests_served(account)["by_path"].get(route, 0)

    def after_a_round(self, account: Account, op: Operation) -> None:
        """Until the bridge polled the account's stream once more: a new subscription starts
        from the pump's first round, so items published after this are delivered."""
        seen = self.polled(account, op)
        wait_for(lambda: self.polled(account, op) > seen, DELIVERY_TIMEOUT_S, "a bridge round")

    def subscribe(
        self, account: Account, target: str, inputs: dict[str, Any] | None = None, **bundle: Any
    ) -> dict[str, Any]:
        made: dict[str, Any] = self.ok(
            hook(VERDICT, "performSubscribe"), account.token, inputs, targetUrl=target, **bundle
        )
        return made


@pytest.fixture(scope="module")
def instant(
    roomy_sandbox: SandboxServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Instant]:
    node_env()
    export = export_to(tmp_path_factory.mktemp("zapier") / "app", roomy_sandbox.base_url)
    zap = ZapierApp(export)
    with LiveBridge(roomy_sandbox.base_url, tmp_path_factory.mktemp("bridge")) as bridge:
        made = Instant(export, zap, bridge, SandboxAdmin(roomy_sandbox))
        yield made
    zap.log.seek(0)
    harness_log = zap.log.read()
    zap.close()
    for token in made.tokens:  # the token never appears in what the processes wrote
        assert token not in bridge.stderr
        assert token not in harness_log


# The app's definition ---------------------------------------------------------------------------


def test_each_instant_trigger_is_a_rest_hook_twin_of_its_polling_trigger(instant: Instant) -> None:
    checked = node("zapier_validate.js", str(instant.export))
    assert checked["app"] == []
    app = checked["definition"]
    assert checked["triggers"] == {key: [] for key in app["triggers"]}  # TriggerSchema, hooks too
    bridge = CONNECTOR.bridge
    assert bridge is not None
    fields = app["authentication"]["fields"]
    assert fields[1] == {
        "key": bridge.url_field.key,
        "label": bridge.url_field.label,
        "type": "string",
        "required": False,
        "helpText": bridge.url_field.help,
    }
    instant_triggers = [op for op in TRIGGERS if op.instant is not None]
    assert instant_triggers == TRIGGERS  # every trigger of the project has its instant twin
    for op in instant_triggers:
        assert op.instant is not None
        polling = app["triggers"][op.key]["operation"]
        made = app["triggers"][op.instant.key]
        assert made["key"] == op.instant.key
        assert made["noun"] == op.noun
        assert made["display"]["label"] == op.instant.label
        assert made["display"]["description"].startswith("Triggers when")
        operation = made["operation"]
        assert operation["type"] == "hook"
        for function in ("perform", "performList", "performSubscribe", "performUnsubscribe"):
            assert operation[function] == "$func$2$f$"
        for same in ("inputFields", "outputFields", "sample"):
            assert operation[same] == polling[same], (op.key, same)


# Subscribe, deliveries, perform, unsubscribe ---------------------------------------------------


def test_subscribe_then_each_verdict_is_delivered_verified_and_shaped_as_a_poll(
    instant: Instant, receiver: Receiver
) -> None:
    account = instant.account(domains=("example.com", "b.example"))
    inputs = {"domain": "B.Example", "verdict": "spam, phishing, clean"}
    zap = {"zap": {"id": 4242, "name": "Verdicts to Slack"}}
    subscribed = instant.subscribe(account, receiver.url, inputs, meta=zap)
    assert subscribed["id"].startswith("sub_")
    assert subscribed["secret"].startswith("whsec_")
    assert subscribed["event"] == "new_verdict"
    assert subscribed["target_url"] == receiver.url
    assert subscribed["filters"] == {
        "domain": "b.example",
        "verdict": ["spam", "phishing", "clean"],
        "action": [],
    }
    assert subscribed["description"] == 'Zapier Zap 4242 "Verdicts to Slack"'
    seen = instant.on_bridge(account, f"/v1/subscriptions/{subscribed['id']}")
    assert seen.status_code == 200
    assert seen.json() == {k: v for k, v in subscribed.items() if k != "secret"}
    assert seen.json()["status"] == "active"

    instant.after_a_round(account, VERDICT)
    published = instant.admin.traffic(account, 60, seed=21)["created"]
    # What the polling trigger returns for the same inputs: the items the bridge must deliver.
    expected = instant.ok(f"triggers.{VERDICT.key}.operation.perform", account.token, inputs)
    assert 0 < len(expected) < published
    wait_for(lambda: len(receiver.received) >= len(expected), DELIVERY_TIMEOUT_S, "deliveries")

    items = []
    for number, got in enumerate(receiver.received):
        assert account.token not in got.body
        assert account.token not in json.dumps(got.headers)
        result = instant.ok(
            hook(VERDICT, "perform"),
            account.token,
            inputs,
            subscribeData=subscribed,
            rawRequest=zapier_request(got, zapier_names=number % 2 == 0),
            cleanedRequest=json.loads(got.body),
        )
        assert len(result) == 1
        items += result
    assert len({got.headers["webhook-id"] for got in receiver.received}) == len(items)
    assert len({item["id"] for item in items}) == len(items) == len(expected)  # each once
    by_id = {item["id"]: item for item in expected}
    for item in items:
        assert item == by_id[item["id"]]  # the polling trigger's shape, field for field

    first = receiver.received[0]
    refusals = _forgeries(first, subscribed["secret"])
    for what, raw in refusals.items():
        refused = instant.error(
            hook(VERDICT, "perform"),
            account.token,
            inputs,
            subscribeData=subscribed,
            cleanedRequest=json.loads(first.body),
            **({"rawRequest": raw} if raw is not None else {}),
        )
        assert refused["name"] == "HaltedError", what
        assert refused["message"].startswith(REFUSED), what
    # The same request, untouched, still passes: the refusals above are about what was changed.
    assert instant.ok(
        hook(VERDICT, "perform"),
        account.token,
        subscribeData=subscribed,
        rawRequest=zapier_request(first),
    ) == [by_id[json.loads(first.body)["data"]["id"]]]

    removed = instant.ok(
        hook(VERDICT, "performUnsubscribe"), account.token, subscribeData=subscribed
    )
    assert removed == {"id": subscribed["id"], "outcome": "removed"}
    assert instant.on_bridge(account, f"/v1/subscriptions/{subscribed['id']}").status_code == 404
    again = instant.ok(hook(VERDICT, "performUnsubscribe"), account.token, subscribeData=subscribed)
    assert again == {"id": subscribed["id"], "outcome": "already_absent"}


def _forgeries(got: Received, secret: str) -> dict[str, dict[str, Any] | None]:
    """Requests to the Zap's URL that must not trigger it, each changed in one way from ``got``."""
    body = json.loads(got.body)
    other_item = {**body, "data": {**body["data"], "id": body["data"]["id"] + "0"}}
    altered = json.dumps(other_item, separators=(",", ":"))
    signature = got.headers["webhook-signature"]
    middle = len(signature) // 2  # a character that carries signature bits (not padding)
    flipped = (
        signature[:middle] + ("A" if signature[middle] != "A" else "B") + signature[middle + 1 :]
    )
    webhook_id = got.headers["webhook-id"]
    other_event = got.body.replace('"new_verdict"', '"new_domain"')
    now = datetime.now(UTC)
    cases: dict[str, dict[str, Any] | None] = {
        "body altered": zapier_request(Received(got.headers, altered)),
        "signature altered": zapier_request(
            Received({**got.headers, "webhook-signature": flipped}, got.body)
        ),
        "signed with another secret": zapier_request(
            Received(signed_headers(new_secret(), webhook_id, now, got.body), got.body)
        ),
        "signed an hour ago (a replay)": zapier_request(
            Received(
                signed_headers(secret, webhook_id, now - timedelta(hours=1), got.body), got.body
            )
        ),
        "no signature": zapier_request(
            Received({k: v for k, v in got.headers.items() if k != "webhook-signature"}, got.body)
        ),
        "another event": zapier_request(
            Received(signed_headers(secret, webhook_id, now, other_event), other_event)
        ),
        "no raw request": None,
    }
    return cases


def test_a_target_answering_410_has_its_subscription_disabled(
    instant: Instant, receiver: Receiver
) -> None:
    """Zapier answers 410 on the URL of a deleted Zap: the bridge stops sending there."""
    account = instant.account()
    receiver.script = [410]
    subscribed = instant.subscribe(account, receiver.url)
    instant.after_a_round(account, VERDICT)
    instant.admin.traffic(account, 3, seed=22)

    def disabled() -> bool:
        answer = instant.on_bridge(account, f"/v1/subscriptions/{subscribed['id']}").json()
        return bool(answer["status"] == "disabled")

    wait_for(disabled, DELIVERY_TIMEOUT_S, "the subscription disabled")
    assert len(receiver.received) == 1
    gone = instant.ok(hook(VERDICT, "performUnsubscribe"), account.token, subscribeData=subscribed)
    assert gone["outcome"] == "removed"  # a disabled subscription is still there to delete


# performList --------------------------------------------------------------------------------


def test_perform_list_returns_the_bridges_samples_as_the_polling_sample(instant: Instant) -> None:
    account = instant.account()
    for op in TRIGGERS:
        if op.key != "new_domain":  # the account has a domain already
            assert instant.ok(hook(op, "performList"), account.token) == [], op.key
    instant.admin.traffic(account, 12, spread_seconds=30, seed=23)
    for op in TRIGGERS:
        listed = instant.ok(hook(op, "performList"), account.token)
        sample = instant.ok(
            f"triggers.{op.key}.operation.perform",
            account.token,
            meta={"isLoadingSample": True},
        )
        assert listed == sample, op.key
    verdicts = instant.ok(hook(VERDICT, "performList"), account.token)
    assert len(verdicts) == 3


# Errors --------------------------------------------------------------------------------------


def test_a_missing_bridge_url_or_bad_input_is_a_clear_error_before_any_request(
    instant: Instant, receiver: Receiver
) -> None:
    account = instant.account()
    token = account.token
    before = instant.admin.requests_served(account)["total"]
    listening = receiver.url.rsplit("/", 1)[0]  # any request to it would be recorded
    subscribe, listing = hook(VERDICT, "performSubscribe"), hook(VERDICT, "performList")
    for method in (subscribe, listing, hook(VERDICT, "performUnsubscribe")):
        missing = instant.error(
            method, token, bridge_url=None, targetUrl=receiver.url, subscribeData={"id": "sub_1"}
        )
        assert (missing["code"], missing["status"]) == ("bridge_required", 400), method
        assert missing["message"].startswith("This instant trigger needs the Bridge URL")
        assert "The polling trigger of the same name works without a bridge." in missing["message"]
    for url in ("ftp://bridge.example", "https://user:pw@bridge.example", "bridge.example", token):
        bad = instant.error(subscribe, token, bridge_url=url, targetUrl=receiver.url)
        assert (bad["code"], bad["status"]) == ("invalid_input", 400), url
        assert bad["message"].startswith("Bridge URL: not an http(s) address")
    cases: list[tuple[dict[str, Any], str]] = [
        ({"verdict": ["spam", "ham"]}, 'Verdict: "ham" is not one of'),
        ({"domain": "not a host"}, "Domain: "),
        ({"action": "bounced"}, 'Action: "bounced" is not one of'),
    ]
    for inputs, message in cases:
        for method in (subscribe, listing):
            bad = instant.error(method, token, inputs, bridge_url=listening, targetUrl=receiver.url)
            assert (bad["code"], bad["status"]) == ("invalid_input", 400), inputs
            assert bad["message"].startswith(message), bad
    assert receiver.received == []
    assert instant.admin.requests_served(account)["total"] == before

    # The connection test checks a bridge URL's form, and never asks the bridge: one that is
    # down does not break the connection the polling triggers and actions use.
    closed = f"http://127.0.0.1:{free_port()}"
    assert instant.ok("authentication.test", token, bridge_url=closed)["name"]
    tested = instant.error("authentication.test", token, bridge_url="ftp://bridge.example")
    assert tested["code"] == "invalid_input"


def test_bridge_errors_are_clear_and_a_rejected_token_asks_to_reconnect(
    instant: Instant, receiver: Receiver
) -> None:
    account = instant.account()
    subscribe = hook(VERDICT, "performSubscribe")
    for method in (subscribe, hook(VERDICT, "performList")):  # MxGuard does not know the token
        rejected = instant.error(method, UNKNOWN_TOKEN, targetUrl=receiver.url)
        assert rejected["name"] == "ExpiredAuthError", method
        assert rejected["message"].startswith("The MxGuard bridge rejected the API token (HTTP 401")
        assert rejected["message"].endswith("Issue a new token in MxGuard and reconnect.")
    refused = instant.error(subscribe, account.token, targetUrl="ftp://hooks.example/catch")
    assert refused["status"] == 422
    assert refused["message"].startswith("The MxGuard bridge answered HTTP 422: target_url")
    closed = f"http://127.0.0.1:{free_port()}"
    down = instant.error(subscribe, account.token, bridge_url=closed, targetUrl=receiver.url)
    assert (down["code"], down["status"]) == ("bridge_unreachable", 502)
    assert down["message"].startswith(f"The MxGuard bridge at {closed} cannot be reached (")
    listed = instant.on_bridge(account, "/v1/subscriptions").json()
    assert listed == {"data": []}  # nothing was subscribed by the failed calls
