"""Make's instant triggers: per trigger, a dedicated webhook attached to an MxGuard bridge and an
instant trigger module naming it.

The files are checked against Make's own schemas (as every file of the export is, in
``tests/test_export_make.py``); their behaviour is run by the stand-in evaluator,
``tests/engines/make_iml.py``, following Make's documentation, against a real bridge
(``mxguard bridge serve``) polling the sandbox: ``attach`` subscribes a local receiver standing in
for Make's webhook URL, the verdicts the sandbox publishes arrive there, the webhook turns each
request into the item the polling trigger gives, and ``detach`` unsubscribes.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from connector.errors import ExportError
from connector.export import make
from connector.export.common import load_bundle
from connector.export.make_iml import camel
from connector.manifest import files
from connector.manifest.format import Bridge, Operation, Param
from sandbox.server import SandboxServer
from tests.bridge_live import LiveBridge, wait_for
from tests.bridge_support import Receiver
from tests.engines.make_iml import MakeApp, MakeError, TriggerState, load
from tests.support import Account, SandboxAdmin
from tests.test_export_make import (
    MANIFESTS,
    export,
    sandbox_clock,
    validate_against_makes_schemas,
)

TOKENS: list[str] = []
"""The tokens given to the bridge in this module: none may appear in what it logged."""


def instant_ops() -> list[Operation]:
    return [op for op in files.load_operations(MANIFESTS) if op.instant is not None]


def verdict_op() -> Operation:
    """The trigger with the most filters (a domain, and two lists)."""
    return next(op for op in instant_ops() if op.key == "new_verdict")


def the_bridge() -> Bridge:
    bridge = files.load_connector(MANIFESTS).bridge
    assert bridge is not None
    return bridge


def name_of(op: Operation) -> str:
    assert op.instant is not None
    return camel(op.instant.key)


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory, roomy_sandbox: SandboxServer) -> Path:
    out = tmp_path_factory.mktemp("make-instant") / "app"
    result = export(out, roomy_sandbox.base_url)
    assert result.exit_code == 0, result.output
    return out


@pytest.fixture(scope="module")
def bridge(
    tmp_path_factory: pytest.TempPathFactory, roomy_sandbox: SandboxServer
) -> Iterator[LiveBridge]:
    with LiveBridge(roomy_sandbox.base_url, tmp_path_factory.mktemp("bridge")) as live:
        yield live
    assert not [token for token in TOKENS if token in live.stderr]


def make_app(exported: Path, account: Account, admin: SandboxAdmin, bridge_url: str) -> MakeApp:
    """The app with a connection holding the token and the bridge's URL."""
    TOKENS.append(account.token)
    connection = {camel(the_bridge().url_field.key): bridge_url}
    return MakeApp(exported, account.token, clock=sandbox_clock(admin), connection=connection)


def subscription(bridge: LiveBridge, account: Account, ident: str) -> requests.Response:
    return requests.get(
        f"{bridge.url}/v1/subscriptions/{ident}",
        headers={"Authorization": f"Bearer {account.token}"},
        timeout=10,
    )


def subscriptions_to(bridge: LiveBridge, account: Account, target: str) -> list[Any]:
    listed = requests.get(
        f"{bridge.url}/v1/subscriptions",
        params={"target_url": target},
        headers={"Authorization": f"Bearer {account.token}"},
        timeout=10,
    )
    assert listed.status_code == 200, listed.text
    found: list[Any] = listed.json()["data"]
    return found


# files --------------------------------------------------------------------------------------------
def test_the_webhooks_and_instant_modules_are_valid_against_makes_schemas(exported: Path) -> None:
    validated = set(validate_against_makes_schemas(exported))
    index = load(exported / "makecomapp.json")
    assert instant_ops()
    for op in instant_ops():
        hook = index["components"]["webhook"][name_of(op)]["codeFiles"]
        module = index["components"]["module"][name_of(op)]["codeFiles"]
        assert set(hook) == {"communication", "params", "attach", "detach"}
        assert set(module) == {
            "communication",
            "staticParams",
            "mappableParams",
            "interface",
            "samples",
        }
        assert {*hook.values(), *module.values()} <= validated


def test_each_instant_trigger_is_a_dedicated_webhook_and_a_module_naming_it(
    exported: Path,
) -> None:
    """The webhook holds the polling trigger's filters and subscribes to the manifest's event;
    the module has the polling trigger's interface and sample (a delivery's item is a poll's)."""
    index = load(exported / "makecomapp.json")
    bridge = the_bridge()
    groups = load(exported / "modules/groups.json")
    (triggers,) = [g["modules"] for g in groups if g["label"] == "Triggers"]
    for op in instant_ops():
        assert op.instant is not None
        name, polling = name_of(op), camel(op.key)
        hook = index["components"]["webhook"][name]
        assert hook["webhookType"] == "web"  # dedicated: the URL is the user's own
        assert hook["connection"] == "mxguard"
        module = index["components"]["module"][name]
        assert module["moduleType"] == "instant_trigger"
        assert module["webhook"] == name
        assert module["label"] == op.instant.label
        assert name in triggers

        def code(kind: str, component: str, which: str) -> Any:
            return load(exported / index["components"][kind][component]["codeFiles"][which])

        filters = [p for p in code("module", polling, "staticParams") if p["name"] != "limit"]
        assert code("webhook", name, "params") == filters
        assert code("module", name, "staticParams") == code("module", name, "mappableParams") == []
        assert code("module", name, "interface") == code("module", polling, "interface")
        assert code("module", name, "samples") == code("module", polling, "samples") == op.sample
        assert code("webhook", name, "communication") == {
            "output": f"{{{{body.{bridge.payload.item_field}}}}}"
        }
        attach = code("webhook", name, "attach")
        assert attach["body"]["event"] == op.instant.event
        assert attach["body"]["target_url"] == "{{webhook.url}}"
        assert set(attach["body"]["filters"]) == {f.key for f in op.inputs}
        assert "secret" not in attach["body"]  # Make could not check a signature with it
        assert set(attach["response"]["data"]) == {"externalHookId", "targetUrl"}
    url = next(
        p
        for p in load(exported / "connections/mxguard/mxguard.params.iml.json")
        if p["name"] == camel(bridge.url_field.key)
    )
    assert url["required"] is False
    assert url["label"] == bridge.url_field.label
    pattern = url["validate"]["pattern"]
    assert re.match(pattern, "https://bridge.example.com")
    assert not re.match(pattern, "ftp://bridge.example.com")


def test_without_a_bridge_in_the_manifests_there_are_no_instant_triggers(tmp_path: Path) -> None:
    bundle = load_bundle(MANIFESTS, None)
    without = type(bundle)(
        bundle.connector.model_copy(update={"bridge": None}), bundle.operations, bundle.base_url
    )
    make.export(without, tmp_path / "app")
    index = load(tmp_path / "app/makecomapp.json")
    assert index["components"]["webhook"] == {}
    assert not [m for m in index["components"]["module"].values() if "webhook" in m]
    (token,) = load(tmp_path / "app/connections/mxguard/mxguard.params.iml.json")
    assert token["name"] == "apiKey"


def test_a_bridge_request_naming_an_input_make_has_no_value_for_stops_the_export(
    tmp_path: Path,
) -> None:
    """A subscribe request sent without one of its inputs would not be the manifest's."""
    bundle = load_bundle(MANIFESTS, None)
    bridge = the_bridge()
    subscribe = bridge.subscribe.model_copy(
        update={"body": [*bridge.subscribe.body, Param(name="team", input="team")]}
    )
    connector = bundle.connector.model_copy(
        update={"bridge": bridge.model_copy(update={"subscribe": subscribe})}
    )
    odd = type(bundle)(connector, bundle.operations, bundle.base_url)
    with pytest.raises(ExportError, match=r"connector\.bridge\.subscribe: .* 'team'"):
        make.export(odd, tmp_path / "app")
    assert not (tmp_path / "app").exists()


# running it ---------------------------------------------------------------------------------------
@pytest.mark.slow
def test_attach_then_deliveries_then_detach_through_a_real_bridge(
    exported: Path, bridge: LiveBridge, roomy_sandbox: SandboxServer, receiver: Receiver
) -> None:
    """Attach subscribes the webhook's URL with its filters; every verdict published afterwards
    that passes them arrives once, and the webhook gives it as the polling trigger gives it,
    ties (one timestamp for all) included; detach unsubscribes, and again is a no-op."""
    admin = SandboxAdmin(roomy_sandbox)
    account = admin.new_account(domains=("example.com", "example.org"))
    app = make_app(exported, account, admin, bridge.url)
    verdict = verdict_op()
    hook_name = name_of(verdict)
    filters = {"domain": "example.org", "verdict": ["spam", "phishing"]}

    hook = app.attach(hook_name, receiver.url, filters)
    made = subscription(bridge, account, hook["externalHookId"])
    assert made.status_code == 200, made.text
    assert made.json()["event"] == "new_verdict"
    assert made.json()["target_url"] == receiver.url
    assert made.json()["filters"] == {**filters, "action": []}
    assert hook == {"externalHookId": made.json()["id"], "targetUrl": receiver.url}

    # A subscription starts from now: publish once the bridge has polled this token.
    polled = f"{verdict.request.method} {verdict.request.path}"
    wait_for(
        lambda: admin.requests_served(account)["by_path"].get(polled, 0) > 0,
        timeout=30,
        what="the bridge's first poll",
    )
    published = admin.traffic(account, 60, seed=11)["created"]
    expected = app.poll(camel(verdict.key), {**filters, "limit": 3000}, TriggerState())
    assert 0 < len(expected) < published  # the filters keep some, and only some
    wait_for(lambda: len(receiver.received) >= len(expected), timeout=30, what="the deliveries")
    bundles = [
        bundle
        for got in receiver.received
        for bundle in app.receive(hook_name, got.body, got.headers)
    ]

    def by_id(items: list[Any]) -> list[Any]:
        return sorted(items, key=lambda item: str(item["id"]))

    assert by_id(bundles) == by_id(expected)  # each once, in the polling trigger's shape
    assert account.token not in json.dumps([hook, bundles])

    app.sent.clear()
    app.detach(hook_name, hook)
    assert [method for method, _ in app.sent] == ["GET", "DELETE"]
    assert subscription(bridge, account, hook["externalHookId"]).status_code == 404
    app.sent.clear()
    app.detach(hook_name, hook)  # already gone: nothing to delete, no error
    assert [method for method, _ in app.sent] == ["GET"]


@pytest.mark.parametrize(
    ("filters", "param"),
    [
        ({"domain": "not a domain"}, "filters.domain"),  # typed in the dropdown's map mode
        ({"verdict": "spam"}, "filters.verdict"),  # mapped: one value where a list goes
    ],
)
def test_bad_filters_are_refused_by_the_bridge_through_the_error_directive(
    exported: Path,
    bridge: LiveBridge,
    roomy_sandbox: SandboxServer,
    receiver: Receiver,
    filters: dict[str, Any],
    param: str,
) -> None:
    admin = SandboxAdmin(roomy_sandbox)
    account = admin.new_account(domains=("example.com",))
    app = make_app(exported, account, admin, bridge.url)
    with pytest.raises(MakeError) as refused:
        app.attach(name_of(verdict_op()), receiver.url, filters)
    assert refused.value.status == 422
    assert refused.value.kind == "DataError"
    assert str(refused.value).startswith(f"[422] {param}")
    assert account.token not in str(refused.value)
    assert subscriptions_to(bridge, account, receiver.url) == []


def test_without_a_bridge_url_attach_says_what_is_missing(
    exported: Path, roomy_sandbox: SandboxServer, receiver: Receiver
) -> None:
    """Without the connection's Bridge URL the subscribe path is relative, so Make sends it to
    the API's base URL, which has no such path: the 404 says to set the Bridge URL."""
    admin = SandboxAdmin(roomy_sandbox)
    account = admin.new_account(domains=("example.com",))
    app = MakeApp(exported, account.token, clock=sandbox_clock(admin))
    with pytest.raises(MakeError) as missing:
        app.attach(name_of(instant_ops()[0]), receiver.url, {})
    assert missing.value.status == 404
    assert missing.value.kind == "InvalidConfigurationError"
    assert the_bridge().url_field.label in str(missing.value)
    assert account.token not in str(missing.value)
    assert receiver.received == []
