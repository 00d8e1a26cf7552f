"""The Make export: every file valid against Make's own schemas, and the app run on a sandbox.

Make's runtime is not available here, so ``tests/make_iml.py`` runs the exported IML over real
HTTP, and the results are compared with the manifest runner (the reference semantics) where
Make can express them.
"""

from __future__ import annotations

import json
import os
import re
from datetime import datetime
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from click.testing import CliRunner
from jsonschema_specifications import REGISTRY as META_SCHEMAS  # type: ignore[import-untyped]
from referencing import Resource
from referencing.jsonschema import DRAFT7

from connector.cli import main
from connector.manifest import files
from sandbox.server import SandboxServer
from tests.make_iml import MakeApp, MakeError, TriggerState, load
from tests.manifest_runner import ManifestRunner, RunnerError
from tests.support import Account, SandboxAdmin

ROOT = Path(__file__).resolve().parent.parent
MANIFESTS = ROOT / "manifests"
SCHEMA_DIRS = [
    *([Path(os.environ["MAKE_SCHEMAS_DIR"])] if os.environ.get("MAKE_SCHEMAS_DIR") else []),
    ROOT.parent / "shared/vendor/make-apps-sdk-schemas",
]
"""Make's own schemas: ``MAKE_SCHEMAS_DIR``, else ``shared/vendor/`` beside the repository."""
NOT_IML = {"README.md", ".mxguard-export"}
"""The readme (indexed in makecomapp.json, Markdown) and the exporter's own marker."""
LEGACY_NAMES = {
    "communication": "api",
    "staticParams": "parameters",
    "mappableParams": "expect",
    "params": "parameters",
    "interface": "interface",
    "samples": "samples",
    "scope": "scope",
    "epoch": "epoch",
    "common": "common",
}
"""The extension names local files after code types (``static-params``) while ``file-match.json``
also lists each code under its API name (``parameters.imljson``); the index gives the type."""


def export(out: Path, base_url: str) -> Any:
    return CliRunner().invoke(
        main,
        [
            "export",
            "make",
            "--out",
            str(out),
            "--base-url",
            base_url,
            "--manifests",
            str(MANIFESTS),
        ],
    )


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory, sandbox: SandboxServer) -> Path:
    out = tmp_path_factory.mktemp("make") / "app"
    result = export(out, sandbox.base_url)
    assert result.exit_code == 0, result.output
    return out


def app(exported: Path, account: Account) -> MakeApp:
    return MakeApp(exported, account.token)


def runner(sandbox: SandboxServer, account: Account) -> ManifestRunner:
    return ManifestRunner(files.load_connector(MANIFESTS), sandbox.base_url, account.token)


# files ------------------------------------------------------------------------------------------
def glob_regex(pattern: str) -> re.Pattern[str]:
    """VS Code's ``fileMatch``: a pattern without ``/`` matches the file name anywhere."""
    if "/" not in pattern:
        pattern = "**/" + pattern
    out = ""
    for part in re.split(r"(\*\*/|\*)", pattern):
        out += {"**/": "(?:.*/)?", "*": "[^/]*"}.get(part, re.escape(part))
    return re.compile(out + r"\Z")


def schema_for(relative: str, code: str | None, table: list[dict[str, Any]]) -> list[str]:
    """Every schema ``file-match.json`` gives this file (by its path, else by its code type)."""
    found = [e["url"] for e in table if any(glob_regex(p).match(relative) for p in e["fileMatch"])]
    if not found and code in LEGACY_NAMES:
        legacy = f"{LEGACY_NAMES[code]}.imljson"
        found = [e["url"] for e in table if legacy in e["fileMatch"]]
    return found


def test_every_file_is_valid_against_makes_schemas(exported: Path) -> None:
    schemas = next((d for d in SCHEMA_DIRS if (d / "file-match.json").is_file()), None)
    if schemas is None:
        pytest.skip(f"Make's schemas are in none of {[str(d) for d in SCHEMA_DIRS]}")
    table = json.loads((schemas / "file-match.json").read_text())
    resources = [
        (path.resolve().as_uri(), Resource.from_contents(json.loads(path.read_text()), DRAFT7))
        for path in schemas.glob("*/*.json")
    ]
    registry = META_SCHEMAS.with_resources(resources)
    index = load(exported / "makecomapp.json")
    codes = {
        path: code
        for kind in index["components"].values()
        for meta in kind.values()
        for code, path in meta["codeFiles"].items()
    }
    codes |= {path: code for code, path in index["generalCodeFiles"].items() if path}
    on_disk = sorted(p.relative_to(exported).as_posix() for p in exported.rglob("*") if p.is_file())
    validated = 0
    for relative in on_disk:
        if relative in NOT_IML:
            continue
        assert relative == "makecomapp.json" or relative in codes, f"{relative}: not indexed"
        urls = schema_for(relative, codes.get(relative), table)
        assert urls, f"{relative}: no schema matches it"
        document = load(exported / relative)
        for url in urls:
            uri = (schemas / url).resolve().as_uri()
            validator = jsonschema.Draft7Validator({"$ref": uri}, registry=registry)
            errors = [
                f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
                for e in validator.iter_errors(document)
            ]
            assert not errors, f"{relative} against {url}: {errors[:3]}"
        validated += 1
    assert set(index["generalCodeFiles"].values()) <= {*on_disk}
    assert all(path in on_disk for path in codes)
    operations = files.load_operations(MANIFESTS)
    modules = sum(7 if op.kind == "trigger" else 6 for op in operations)
    assert validated == modules + 2 + 2 + 3 + 1  # + connection, rpc, base/common/groups, index


def test_layout_and_index(exported: Path) -> None:
    index = load(exported / "makecomapp.json")
    modules = index["components"]["module"]
    assert set(modules) == {
        "newVerdict",
        "newQuarantinedMessage",
        "newDomain",
        "addDomain",
        "updateDomain",
        "removeDomain",
        "addSenderRule",
        "removeSenderRule",
        "releaseMessage",
        "reportSpam",
        "findDomain",
        "findQuarantinedMessage",
    }
    assert modules["newVerdict"]["moduleType"] == "trigger"
    assert modules["findDomain"]["moduleType"] == "search"
    assert modules["addDomain"]["actionCrud"] == "create"
    assert set(index["components"]["rpc"]) == {"listDomains"}
    groups = load(exported / "modules/groups.json")
    assert sorted(m for g in groups for m in g["modules"]) == sorted(modules)
    base = load(exported / "general/base.iml.json")
    assert base["headers"] == {"Authorization": "Bearer {{connection.apiKey}}"}
    assert base["log"] == {"sanitize": ["request.headers.authorization"]}
    assert base["response"]["error"]["message"] == "[{{statusCode}}] {{body.error.message}}"
    (param,) = load(exported / "connections/mxguard/mxguard.params.iml.json")
    assert param["name"] == "apiKey"
    assert param["type"] == "password"
    assert param["required"]
    assert re.match(param["validate"]["pattern"], "mxg_test_" + "a" * 43)
    assert not re.match(param["validate"]["pattern"], "mxg_test_short")
    trigger = load(exported / "modules/new-verdict/new-verdict.communication.iml.json")
    assert trigger["response"]["trigger"] == {
        "id": "{{item.id}}",
        "date": "{{item.scanned_at}}",
        "type": "date",
        "order": "desc",
    }
    assert trigger["qs"]["order"] == "desc"
    assert trigger["pagination"] == {
        "qs": {"cursor": "{{body.next_cursor}}"},
        "condition": "{{body.has_more}}",
    }
    domain = load(exported / "modules/new-verdict/new-verdict.static-params.iml.json")[0]
    assert domain["type"] == "select"
    assert domain["options"] == "rpc://listDomains"
    epoch = load(exported / "modules/new-verdict/new-verdict.epoch.iml.json")
    assert set(epoch["response"]["output"]) == {"label", "date"}


def test_export_is_deterministic(tmp_path: Path, sandbox: SandboxServer) -> None:
    first, second = tmp_path / "a", tmp_path / "b"
    assert export(first, sandbox.base_url).exit_code == 0
    assert export(second, sandbox.base_url).exit_code == 0
    assert export(second, sandbox.base_url).exit_code == 0  # replaces its own earlier export

    def tree(root: Path) -> dict[str, bytes]:
        return {
            p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()
        }

    assert tree(first) == tree(second)


def test_refuses_to_overwrite_a_folder_that_is_not_an_export(tmp_path: Path) -> None:
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep me")
    result = export(mine, "https://app.mxguard.uk")
    assert result.exit_code != 0
    assert "not an earlier export" in str(result.output) + str(result.exception)
    assert (mine / "notes.txt").read_text() == "keep me"


# running it -------------------------------------------------------------------------------------
def test_connection_check(exported: Path, account: Account) -> None:
    assert app(exported, account).test_connection() == "Test customer"
    with pytest.raises(MakeError) as failed:
        MakeApp(exported, "mxg_test_" + "x" * 43).test_connection()
    assert failed.value.status == 401
    assert failed.value.kind == "InvalidAccessTokenError"


def test_list_domains_rpc(exported: Path, admin: SandboxAdmin) -> None:
    account = admin.new_account(domains=("zeta.example", "alpha.example"))
    options = app(exported, account).rpc("listDomains")
    assert options == [
        {"label": "zeta.example", "value": "zeta.example"},
        {"label": "alpha.example", "value": "alpha.example"},
    ]  # in creation order


def desc(items: list[dict[str, Any]], field: str) -> bool:
    keys = [(datetime.fromisoformat(i[field].replace("Z", "+00:00")), i["id"]) for i in items]
    return keys == sorted(keys, reverse=True)


def test_new_verdict_is_newest_first_paged_to_the_limit_and_remembers(
    exported: Path, sandbox: SandboxServer, admin: SandboxAdmin
) -> None:
    account = admin.new_account(domains=("example.com",))
    admin.traffic(account, 150, spread_seconds=3600, seed=7)
    make = app(exported, account)
    state = TriggerState()
    first = make.poll("newVerdict", {"limit": 120}, state)
    assert len(first) == 120
    assert desc(first, "scanned_at")
    assert len(make.sent) == 2  # pages of 100: the second page was followed, not a third
    reference, _ = runner(sandbox, account).poll_page(
        files.load_operations(MANIFESTS)[0], {}, None, None, 150, "desc"
    )
    assert [v["id"] for v in first] == [v["id"] for v in reference[:120]]
    assert make.poll("newVerdict", {"limit": 120}, state) == []
    admin.add_verdicts(
        account, [{"domain": "example.com", "subject": f"new {i}"} for i in range(3)]
    )
    later = make.poll("newVerdict", {"limit": 120}, state)
    assert sorted(v["subject"] for v in later) == ["new 0", "new 1", "new 2"]
    assert desc(later, "scanned_at")
    marks = make.epoch("newVerdict", {"limit": 10})
    assert len(marks) == 153
    assert set(marks[0]) == {"label", "date"}


def test_new_verdict_filters(exported: Path, sandbox: SandboxServer, admin: SandboxAdmin) -> None:
    account = admin.new_account(domains=("example.com", "example.org"))
    admin.traffic(account, 80, spread_seconds=600, seed=3)
    filters = {"domain": "example.org", "verdict": ["spam", "phishing"]}
    found = app(exported, account).poll("newVerdict", {**filters, "limit": 500}, TriggerState())
    verdict = files.load_operations(MANIFESTS)[0]
    reference, _ = runner(sandbox, account).poll_page(verdict, filters, None, None, 500, "desc")
    assert found
    assert [v["id"] for v in found] == [v["id"] for v in reference]
    assert {v["domain"] for v in found} == {"example.org"}
    assert {v["verdict"] for v in found} <= {"spam", "phishing"}


def test_new_quarantined_message_and_new_domain(exported: Path, admin: SandboxAdmin) -> None:
    account = admin.new_account(domains=("one.example", "two.example", "three.example"))
    admin.traffic(account, 60, spread_seconds=600, seed=11)
    make = app(exported, account)
    held = make.poll("newQuarantinedMessage", {"limit": 500}, TriggerState())
    assert held
    assert desc(held, "quarantined_at")
    only = make.poll(
        "newQuarantinedMessage", {"domain": "two.example", "limit": 500}, TriggerState()
    )
    assert [m["id"] for m in only] == [m["id"] for m in held if m["domain"] == "two.example"]
    state = TriggerState()
    domains = make.poll("newDomain", {"limit": 2}, state)
    assert [d["domain"] for d in domains] == ["three.example", "two.example"]
    admin.public(
        account, "POST", "/domains", {"domain": "four.example", "real_mx_host": "mail.four.example"}
    )
    assert [d["domain"] for d in make.poll("newDomain", {"limit": 2}, state)] == ["four.example"]


def reference_error(call: Any) -> str:
    with pytest.raises(RunnerError) as failed:
        call()
    return str(failed.value)


def test_domains_and_sender_rules_with_repeats(
    exported: Path, sandbox: SandboxServer, admin: SandboxAdmin
) -> None:
    account = admin.new_account(domains=("example.com",))
    make, ref = app(exported, account), runner(sandbox, account)
    ops = {op.key: op for op in files.load_operations(MANIFESTS)}
    new = {"domain": "Northwind.example", "real_mx_host": "mail.northwind.example"}
    (created,) = make.module("addDomain", new)
    assert created["outcome"] == "created"
    assert created["domain"] == "northwind.example"
    (again,) = make.module("addDomain", new)
    assert again == {**created, "outcome": "existing"}
    assert again == ref.run(ops["add_domain"], new)
    other = {**new, "real_mx_host": "other.example"}
    with pytest.raises(MakeError) as conflict:
        make.module("addDomain", other)
    assert str(conflict.value) == reference_error(lambda: ref.run(ops["add_domain"], other))
    (updated,) = make.module("updateDomain", {**other, "domain": "northwind.example"})
    assert updated["outcome"] == "updated"
    assert updated["real_mx_host"] == "other.example"

    rule = {"domain": "northwind.example", "pattern": "*@spam.example", "action": "block"}
    (added,) = make.module("addSenderRule", {**rule, "note": "wave"})
    assert added["outcome"] == "created"
    assert added["note"] == "wave"
    (again,) = make.module("addSenderRule", rule)
    assert again == {**added, "outcome": "existing"} == ref.run(ops["add_sender_rule"], rule)
    allow = {**rule, "action": "allow"}
    with pytest.raises(MakeError) as conflict:
        make.module("addSenderRule", allow)
    assert str(conflict.value) == reference_error(lambda: ref.run(ops["add_sender_rule"], allow))

    remove = {"domain": "northwind.example", "rule_id": added["id"]}
    assert make.module("removeSenderRule", remove) == [{"id": added["id"], "outcome": "removed"}]
    assert make.module("removeSenderRule", remove) == [
        {"id": added["id"], "outcome": "already_absent"}
    ]
    with pytest.raises(MakeError) as missing:
        make.module("removeSenderRule", {**remove, "domain": "nowhere.example"})
    assert missing.value.status == 404

    assert make.module("findDomain", {"domain": "NORTHWIND.example"}) == ref.run(
        ops["find_domain"], {"domain": "northwind.example"}
    )
    gone = {"domain": "northwind.example"}
    assert make.module("removeDomain", gone) == [{"id": "northwind.example", "outcome": "removed"}]
    assert make.module("removeDomain", gone) == [ref.run(ops["remove_domain"], gone)]
    assert make.module("findDomain", gone) == [] == ref.run(ops["find_domain"], gone)


def test_quarantine_actions_with_repeats(
    exported: Path, sandbox: SandboxServer, admin: SandboxAdmin
) -> None:
    account = admin.new_account(domains=("example.com",))
    made = admin.add_verdicts(
        account,
        [
            {
                "domain": "example.com",
                "verdict": "spam",
                "sender": f"s{i}@bulk.example",
                "subject": f"Offer {i}",
            }
            for i in range(3)
        ],
    )["verdicts"]
    make, ref = app(exported, account), runner(sandbox, account)
    ops = {op.key: op for op in files.load_operations(MANIFESTS)}
    found = make.module("findQuarantinedMessage", {"sender": "BULK", "limit": 2})
    assert len(found) == 2
    assert {m["verdict_id"] for m in found} <= {v["id"] for v in made}
    assert found == ref.run(ops["find_quarantined_message"], {"sender": "BULK", "limit": 2})
    first, second = found[0]["id"], found[1]["id"]

    (released,) = make.module("releaseMessage", {"message_id": first})
    assert released["outcome"] == "released"
    assert released["status"] == "released"
    (again,) = make.module("releaseMessage", {"message_id": first})
    assert again["outcome"] == "already_released"
    assert again["id"] == first
    (reported,) = make.module("reportSpam", {"message_id": first})
    assert reported["outcome"] == "reported"
    assert reported["status"] == "reported"
    (again,) = make.module("reportSpam", {"message_id": first})
    assert again == ref.run(ops["report_spam"], {"message_id": first})
    with pytest.raises(MakeError) as conflict:
        make.module("releaseMessage", {"message_id": first})
    expected = reference_error(lambda: ref.run(ops["release_message"], {"message_id": first}))
    assert str(conflict.value) == expected
    assert make.module("findQuarantinedMessage", {"status": "reported"})[0]["id"] == first
    assert [m["id"] for m in make.module("findQuarantinedMessage", {})][:1] == [second]
    with pytest.raises(MakeError) as missing:
        make.module("reportSpam", {"message_id": "qmsg_nope"})
    assert missing.value.status == 404


def test_a_status_rule_make_cannot_express_stops_the_export(tmp_path: Path) -> None:
    from connector.export import make
    from connector.export.common import load_bundle

    bundle = load_bundle(MANIFESTS, None)
    odd = [
        op.model_copy(
            update={"status_rules": [r.model_copy(update={"status": 410}) for r in op.status_rules]}
        )
        if op.key == "add_domain"
        else op
        for op in bundle.operations
    ]
    with pytest.raises(ValueError, match="add_domain: its status rules"):
        make.export(type(bundle)(bundle.connector, odd, bundle.base_url), tmp_path / "out")
    assert not (tmp_path / "out").exists()
