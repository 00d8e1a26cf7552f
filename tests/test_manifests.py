"""Manifests: valid, up to date, and faithful — each operation run from its manifest (through a
generic HTTP runner) behaves as its Python definition does, against the sandbox."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from actions import ActionConflictError
from api_client import APIError, MxGuardClient
from bridge.api import create_app
from bridge.secrets_box import SecretBox
from bridge.sqlite import SQLiteBridgeStorage
from connector import registry
from connector.manifest import files
from connector.manifest.runner import ManifestRunner
from sandbox.server import SandboxServer
from tests.support import SandboxAdmin, account_with_mail

MANIFESTS = Path(__file__).resolve().parents[1] / "manifests"
VOLATILE = {
    "id",
    "created_at",
    "updated_at",
    "released_at",
    "reported_at",
    "verdict_id",
    "quarantined_at",
    "expires_at",
    "since",
    "until",
    "message_id",
    "scanned_at",
}


def test_manifests_are_valid_and_up_to_date() -> None:
    assert files.problems(MANIFESTS) == []


def test_a_hand_edit_is_caught(tmp_path: Path) -> None:
    copy = tmp_path / "manifests"
    shutil.copytree(MANIFESTS, copy)
    target = copy / "actions" / "add_domain.json"
    target.write_text(target.read_text().replace('"kind": "create"', '"kind": "creat"'))
    (copy / "triggers" / "stray.json").write_text("{}")
    found = files.problems(copy)
    assert any("add_domain.json: kind" in p for p in found)
    assert any("add_domain.json: differs" in p for p in found)
    assert any("stray.json" in p for p in found)


def test_every_operation_has_a_manifest_and_a_valid_sample() -> None:
    operations = {op.key: op for op in files.load_operations(MANIFESTS)}
    assert set(operations) == set(registry.triggers()) | set(registry.actions())
    for key, trigger in registry.triggers().items():
        trigger.output.model_validate(operations[key].sample)
        assert operations[key].polling is not None
    for key, action in registry.actions().items():
        action.output.model_validate(operations[key].sample)
        assert operations[key].kind == action.kind


def test_the_bridge_section_names_routes_the_bridge_serves(tmp_path: Path) -> None:
    """Every request of ``connector.bridge`` is an operation of the bridge's own document, and
    every trigger's instant version names an event the bridge accepts."""
    connector = files.load_connector(MANIFESTS)
    assert connector.bridge is not None
    storage = SQLiteBridgeStorage(
        tmp_path / "bridge.sqlite", SecretBox.from_environment(tmp_path, environ={})
    )
    app = create_app(
        storage,
        triggers=registry.triggers(),
        client_factory=lambda token: MxGuardClient(token, "http://127.0.0.1:9"),
        clock_us=lambda: 0,
    )
    document = app.openapi()
    storage.close()
    section = connector.bridge
    for request in (section.subscribe, section.find, section.unsubscribe, section.samples):
        operation = document["paths"][request.path][request.method.lower()]
        names = {p["name"] for p in operation.get("parameters", []) if p["in"] == "query"}
        assert {p.name for p in request.query} <= names, request
    subscribe_in = document["components"]["schemas"]["SubscriptionIn"]
    assert {p.name for p in section.subscribe.body} == set(subscribe_in["properties"])
    events = subscribe_in["properties"]["event"]["enum"]
    instant = [op.instant for op in files.load_operations(MANIFESTS) if op.kind == "trigger"]
    assert sorted(i.event for i in instant if i is not None) == sorted(events)
    assert all(i is not None and i.key.endswith("_instant") for i in instant)


def _normal(result: Any) -> Any:
    if isinstance(result, list):
        return [_normal(r) for r in result]
    data = result if isinstance(result, dict) else result.model_dump(mode="json")
    return {k: v for k, v in data.items() if k not in VOLATILE}


def _outcome(call: Any) -> Any:
    try:
        return ("ok", _normal(call()))
    except (ActionConflictError, APIError) as error:
        status = getattr(error, "status", None) or 409
        return ("error", status)


STEPS: list[tuple[str, dict[str, Any]]] = [
    ("add_domain", {"domain": "Bücher.example", "real_mx_host": "mail.example.com"}),
    ("add_domain", {"domain": "bücher.example", "real_mx_host": "MAIL.example.com"}),
    ("add_domain", {"domain": "bücher.example", "real_mx_host": "other.example.com"}),
    ("update_domain", {"domain": "xn--bcher-kva.example", "real_mx_host": "mx2.example.com"}),
    ("find_domain", {"domain": "BÜCHER.example"}),
    ("find_domain", {"domain": "nothing.example"}),
    ("add_sender_rule", {"domain": "example.com", "pattern": "*@Spam.example", "action": "block"}),
    ("add_sender_rule", {"domain": "example.com", "pattern": "*@spam.example", "action": "block"}),
    ("add_sender_rule", {"domain": "example.com", "pattern": "*@spam.example", "action": "allow"}),
    ("release_message", {"message_id": "{held}"}),
    ("release_message", {"message_id": "{held}"}),
    ("report_spam", {"message_id": "{other}"}),
    ("report_spam", {"message_id": "{other}"}),
    ("release_message", {"message_id": "{other}"}),
    ("find_quarantined_message", {"sender": "DEALS"}),
    ("find_quarantined_message", {"status": "reported", "limit": 5}),
    ("remove_sender_rule", {"domain": "example.com", "rule_id": "rul_missing"}),
    ("remove_sender_rule", {"domain": "missing.example", "rule_id": "rul_missing"}),
    ("find_sender_rules", {"domain": "example.com"}),
    ("find_sender_rules", {"domain": "example.com", "pattern": "SPAM", "action": "block"}),
    ("find_sender_rules", {"domain": "example.com", "action": "allow"}),
    ("find_sender_rules", {"domain": "missing.example"}),
    ("find_verdict", {"verdict_id": "{held_verdict}"}),
    ("find_verdict", {"verdict_id": "vrd_missing"}),
    ("find_verdicts", {"message_id": "{held_message_id}"}),
    ("find_verdicts", {"sender": "PHISH", "domain": "example.com", "limit": 5}),
    ("find_verdicts", {"subject": "nothing like it"}),
    ("get_account_stats", {}),
    ("get_account_stats", {"domain": "example.com"}),
    ("get_account_stats", {"domain": "nothing.example"}),
    ("get_account_stats", {"since": "2000-01-01T00:00:00Z", "until": "2000-01-02T00:00:00Z"}),
    ("remove_domain", {"domain": "xn--bcher-kva.example"}),
    ("remove_domain", {"domain": "xn--bcher-kva.example"}),
]


def test_actions_from_manifests_behave_as_the_python_definitions(
    roomy_sandbox: SandboxServer,
) -> None:
    admin = SandboxAdmin(roomy_sandbox)
    python_account, python_ids = account_with_mail(admin)
    runner_account, runner_ids = account_with_mail(admin)
    client = MxGuardClient(python_account.token, roomy_sandbox.base_url, rate_limit_db=":memory:")
    runner = ManifestRunner(
        files.load_connector(MANIFESTS), roomy_sandbox.base_url, runner_account.token
    )
    operations = {op.key: op for op in files.load_operations(MANIFESTS)}
    for key, inputs in STEPS:
        mine = {k: str(v).format(**python_ids) for k, v in inputs.items()}
        theirs = {k: str(v).format(**runner_ids) for k, v in inputs.items()}
        if "limit" in inputs:
            mine["limit"] = theirs["limit"] = inputs["limit"]  # type: ignore[assignment]
        expected = _outcome(lambda k=key, i=mine: registry.actions()[k].execute(client, i))
        got = _outcome(lambda k=key, i=theirs: runner.run(operations[k], i))
        assert got == expected, (key, inputs)
    assert runner.test_connection() == "Test customer"
    assert runner.dropdown("domains") == ["example.com"]


@pytest.mark.parametrize("key", list(registry.triggers()))
def test_trigger_pages_from_manifests_match_the_python_trigger(
    roomy_sandbox: SandboxServer, key: str
) -> None:
    admin = SandboxAdmin(roomy_sandbox)
    account = admin.new_account(domains=("example.com", "b.example"))
    admin.traffic(account, 230, spread_seconds=300, seed=9)
    client = MxGuardClient(account.token, roomy_sandbox.base_url, rate_limit_db=":memory:")
    runner = ManifestRunner(files.load_connector(MANIFESTS), roomy_sandbox.base_url, account.token)
    operation = next(op for op in files.load_operations(MANIFESTS) if op.key == key)
    trigger = registry.triggers()[key]
    raw = {"domain": "B.example"} if any(f.key == "domain" for f in operation.inputs) else {}
    filters = trigger.filters.model_validate(raw)
    python_ids, runner_ids = [], []
    cursor: str | None = None
    runner_cursor: str | None = None
    while True:
        page = trigger.fetch(
            client, filters=filters, since=None, cursor=cursor, limit=40, order="asc"
        )
        items, runner_cursor = runner.poll_page(operation, raw, None, runner_cursor, 40, "asc")
        python_ids += [str(item.model_dump()["id"]) for item in page.items]
        runner_ids += [item["id"] for item in items]
        cursor = page.next_cursor
        if cursor is None:
            assert runner_cursor is None
            break
    assert python_ids == runner_ids
    assert python_ids, "the filter matched something"
