"""The Make export: every file valid against Make's own schemas, and the app run on a sandbox.

Make's runtime is not available here, so ``tests/engines/make_iml.py`` runs the exported IML
over real HTTP the way Make's documentation describes it, and the results are compared with the
manifest runner (the reference semantics) where Make can express them. Where Make's documented
semantics lose items (bursts beyond what one run reads, late items tying with the last one
processed), the tests assert that documented behaviour; ``docs/export-make.md`` explains it.
"""

from __future__ import annotations

import json
import os
import re
import secrets
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from click.testing import CliRunner
from jsonschema_specifications import REGISTRY as META_SCHEMAS  # type: ignore[import-untyped]
from referencing import Resource
from referencing.jsonschema import DRAFT7

from actions.errors import ActionConflictError
from actions.repeat import Absent, Empty
from api_client.contract import MICROS
from api_client.errors import APIError
from connector.cli import Settings, main
from connector.errors import ExportError
from connector.manifest import files
from connector.manifest.format import HttpRequest, Operation
from connector.manifest.runner import ManifestRunner
from sandbox.server import SandboxServer
from sandbox.timefmt import format_us, parse_to_us
from tests.engines.make_iml import (
    UNDEFINED,
    MakeApp,
    MakeError,
    TriggerState,
    evaluate,
    load,
    parse_date,
)
from tests.support import Account, SandboxAdmin, account_with_mail

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
        obj=Settings(),
    )


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory, sandbox: SandboxServer) -> Path:
    out = tmp_path_factory.mktemp("make") / "app"
    result = export(out, sandbox.base_url)
    assert result.exit_code == 0, result.output
    return out


def sandbox_clock(admin: SandboxAdmin) -> Callable[[], datetime]:
    """IML's ``now`` read from the sandbox's clock (never this machine's)."""
    return lambda: parse_date(admin.now())


def app(exported: Path, account: Account, admin: SandboxAdmin) -> MakeApp:
    return MakeApp(exported, account.token, clock=sandbox_clock(admin))


def runner(sandbox: SandboxServer, account: Account) -> ManifestRunner:
    return ManifestRunner(files.load_connector(MANIFESTS), sandbox.base_url, account.token)


def operation(key: str) -> Operation:
    return next(op for op in files.load_operations(MANIFESTS) if op.key == key)


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


def validate_against_makes_schemas(exported: Path) -> list[str]:
    """Check every file of an export against the schemas ``file-match.json`` gives it (every file
    indexed, every indexed file there); answer the files validated (skips without the schemas)."""
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
    validated = []
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
        validated.append(relative)
    assert set(index["generalCodeFiles"].values()) <= {*on_disk}
    assert all(path in on_disk for path in codes)
    return validated


def test_every_file_is_valid_against_makes_schemas(exported: Path) -> None:
    validated = validate_against_makes_schemas(exported)
    operations = files.load_operations(MANIFESTS)
    modules = sum(7 if op.kind == "trigger" else 6 for op in operations)
    instant = sum(5 + 4 for op in operations if op.instant)  # its module, its webhook
    # + connection, rpc, base/common/groups, index
    assert len(validated) == modules + instant + 2 + 2 + 3 + 1


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
        "findSenderRules",
        "findVerdict",
        "findVerdicts",
        "getAccountStats",
        "newVerdictInstant",
        "newQuarantinedMessageInstant",
        "newDomainInstant",
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
    param, _bridge_url = load(exported / "connections/mxguard/mxguard.params.iml.json")
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
def test_connection_check(exported: Path, account: Account, admin: SandboxAdmin) -> None:
    assert app(exported, account, admin).test_connection() == "Test customer"
    with pytest.raises(MakeError) as failed:
        MakeApp(exported, "mxg_test_" + "x" * 43, clock=sandbox_clock(admin)).test_connection()
    assert failed.value.status == 401
    assert failed.value.kind == "InvalidAccessTokenError"


def test_list_domains_rpc(exported: Path, admin: SandboxAdmin) -> None:
    account = admin.new_account(domains=("zeta.example", "alpha.example"))
    options = app(exported, account, admin).rpc("listDomains")
    assert options == [
        {"label": "zeta.example", "value": "zeta.example"},
        {"label": "alpha.example", "value": "alpha.example"},
    ]  # in creation order


def test_the_domain_list_rpc_makes_at_most_three_calls(
    tmp_path: Path, roomy_sandbox: SandboxServer
) -> None:
    """Make advises an RPC to make at most 3 calls (it must answer within 40 s): with 500 domains
    a page, the dropdown lists the first 1,500 domains and stops there."""
    assert export(tmp_path / "app", roomy_sandbox.base_url).exit_code == 0
    admin = SandboxAdmin(roomy_sandbox)
    account = admin.new_account()
    names = [f"d{i:04d}.example" for i in range(1501)]
    # 1,501 domains through the API would take seconds: they go straight into the sandbox's
    # store (one microsecond apart, in order), and the RPC reads them over HTTP.
    store, start = roomy_sandbox.app.state.sandbox.store, parse_to_us(admin.now())
    for offset, name in enumerate(names):
        store.add_domain(account.customer_id, name, "mail.example.net", start + offset)
    make = app(tmp_path / "app", account, admin)
    options = make.rpc("listDomains")
    assert len(make.sent) == 3
    assert [o["value"] for o in options] == names[:1500]


def test_rpc_dropdowns_of_update_and_delete_modules_open_in_map_mode(exported: Path) -> None:
    """Make requires ``mode: edit`` on an RPC select of a Get, Update or Delete module; a create
    module, a search for a high-level object (a domain) and the trigger filters keep the list."""

    def domain_param(module: str, code: str) -> dict[str, Any]:
        params = load(exported / f"modules/{module}/{module}.{code}.iml.json")
        found: dict[str, Any] = next(p for p in params if p["name"] == "domain")
        assert found["options"] == "rpc://listDomains"
        return found

    for module in ("update-domain", "remove-domain", "remove-sender-rule"):
        assert domain_param(module, "mappable-params")["mode"] == "edit", module
    for module in ("add-sender-rule", "find-domain", "find-quarantined-message"):
        assert "mode" not in domain_param(module, "mappable-params"), module
    for module in ("new-verdict", "new-quarantined-message"):
        assert "mode" not in domain_param(module, "static-params"), module


def make_key(item: dict[str, Any], field: str) -> tuple[datetime, str]:
    """How Make orders a date trigger's items: the date to the millisecond, then the id."""
    return parse_date(item[field]), str(item["id"])


def ascending(items: list[dict[str, Any]], field: str) -> bool:
    keys = [make_key(i, field) for i in items]
    return keys == sorted(keys)


def in_make_order(items: list[dict[str, Any]], field: str) -> list[str]:
    return [i["id"] for i in sorted(items, key=lambda i: make_key(i, field))]


def stamped(admin: SandboxAdmin, account: Account, count: int, start: int) -> list[str]:
    """``count`` verdicts one millisecond apart from ``start`` (µs on the sandbox's clock), oldest
    first: their order is the same to the microsecond (the API) and to the millisecond (Make)."""
    made = admin.add_verdicts(
        account,
        [
            {
                "domain": "example.com",
                "subject": f"burst {i}",
                "scanned_at": format_us(start + i * 1000),
            }
            for i in range(count)
        ],
    )
    return [v["id"] for v in made["verdicts"]]


def ago(admin: SandboxAdmin, seconds: float) -> int:
    """The sandbox's now minus ``seconds``, in µs, on a whole millisecond."""
    return (parse_to_us(admin.now()) - int(seconds * MICROS)) // 1000 * 1000


def test_triggers_read_the_largest_page_and_their_limit_keeps_up(
    exported: Path, admin: SandboxAdmin
) -> None:
    """Pages of 500 (the API's maximum: Make advises the largest page) and a default Limit of
    3,000, the whole pages within Make's 3,200 records a run: a burst of 1,100 new verdicts comes
    out in one run, oldest first, in 3 requests."""
    for module in ("new-verdict", "new-quarantined-message", "new-domain"):
        communication = load(exported / f"modules/{module}/{module}.communication.iml.json")
        assert communication["qs"]["limit"] == 500
        limit = load(exported / f"modules/{module}/{module}.static-params.iml.json")[-1]
        assert limit["name"] == "limit"
        assert limit["required"]
        assert limit["default"] == 3000
        assert limit["validate"] == {"min": 1, "max": 3000}
    default = limit["default"]
    account = admin.new_account(domains=("example.com",))
    make = app(exported, account, admin)
    state = TriggerState()
    assert make.poll("newVerdict", {"limit": default}, state) == []
    burst = stamped(admin, account, 1100, ago(admin, 60))
    make.sent.clear()
    assert [v["id"] for v in make.poll("newVerdict", {"limit": default}, state)] == burst
    assert len(make.sent) == 3
    make.sent.clear()
    assert make.poll("newVerdict", {"limit": default}, state) == []
    assert len(make.sent) == 1


def test_a_burst_larger_than_the_limit_comes_over_the_next_runs(
    exported: Path, admin: SandboxAdmin
) -> None:
    """Make sorts a date trigger's new items by date and id, shows them in ascending order and
    continues after the last one processed: with Limit 10, a burst of 35 comes as 10, 10, 10, 5,
    oldest first, nothing lost and nothing twice."""
    account = admin.new_account(domains=("example.com",))
    make = app(exported, account, admin)
    state = TriggerState()
    earlier = stamped(admin, account, 5, ago(admin, 120))
    assert [v["id"] for v in make.poll("newVerdict", {"limit": 10}, state)] == earlier
    burst = stamped(admin, account, 35, ago(admin, 60))
    runs = [[v["id"] for v in make.poll("newVerdict", {"limit": 10}, state)] for _ in range(5)]
    assert [len(run) for run in runs] == [10, 10, 10, 5, 0]
    assert [i for run in runs for i in run] == burst


def test_new_items_older_than_the_pages_a_run_reads_are_not_delivered(
    exported: Path, admin: SandboxAdmin
) -> None:
    """The documented loss: newest first, a run stops reading once it holds Limit new items, so
    new items beyond the pages it read are older than the last one it gives, hence never given.
    With Limit 600 and 1,100 new verdicts: 2 pages (the newest 1,000) are read, the oldest 600 of
    them given, the other 400 in the next run; the oldest 100 are lost."""
    account = admin.new_account(domains=("example.com",))
    burst = stamped(admin, account, 1100, ago(admin, 60))
    make = app(exported, account, admin)
    state = TriggerState()  # "All"
    first = make.poll("newVerdict", {"limit": 600}, state)
    assert len(make.sent) == 2
    assert [v["id"] for v in first] == burst[100:700]
    assert [v["id"] for v in make.poll("newVerdict", {"limit": 600}, state)] == burst[700:]
    assert make.poll("newVerdict", {"limit": 600}, state) == []


def test_an_item_tying_with_the_last_processed_one_is_dropped_when_its_id_sorts_lower(
    exported: Path, admin: SandboxAdmin
) -> None:
    """Make keeps the last processed item's date, to the millisecond, and id. An item of that
    same millisecond that becomes visible after the run is new only if its id sorts higher;
    MxGuard's ids are random, so such a late tie is lost about half of the time."""
    account = admin.new_account(domains=("example.com",))
    make = app(exported, account, admin)
    state = TriggerState()
    moment = ago(admin, 30)  # a whole millisecond
    tag = secrets.token_hex(8)

    def add(ident: str, at: int) -> str:
        verdict = {"id": f"vrd_{ident}{tag}", "domain": "example.com", "scanned_at": format_us(at)}
        admin.add_verdicts(account, [verdict])
        return str(verdict["id"])

    last = add("m", moment)
    assert [v["id"] for v in make.poll("newVerdict", {"limit": 10}, state)] == [last]
    add("a", moment)  # same microsecond, lower id: dropped
    higher = add("z", moment)  # same microsecond, higher id: delivered
    add("b", moment + 400)  # 0.4 ms later but the same millisecond, lower id: dropped
    next_ms = add("c", moment + 1000)  # the next millisecond: delivered, whatever its id
    assert [v["id"] for v in make.poll("newVerdict", {"limit": 10}, state)] == [higher, next_ms]


def test_new_verdict_is_oldest_first_and_remembers(
    exported: Path, sandbox: SandboxServer, admin: SandboxAdmin
) -> None:
    account = admin.new_account(domains=("example.com",))
    admin.traffic(account, 150, spread_seconds=3600, seed=7)
    make = app(exported, account, admin)
    reference, _ = runner(sandbox, account).poll_page(
        operation("new_verdict"), {}, None, None, 150, "desc"
    )
    expected = in_make_order(reference, "scanned_at")
    state = TriggerState()
    first = make.poll("newVerdict", {"limit": 120}, state)
    assert [v["id"] for v in first] == expected[:120]
    assert len(make.sent) == 1  # one page of 500 holds them all
    rest = make.poll("newVerdict", {"limit": 120}, state)
    assert [v["id"] for v in rest] == expected[120:]
    assert make.poll("newVerdict", {"limit": 120}, state) == []
    admin.add_verdicts(
        account, [{"domain": "example.com", "subject": f"new {i}"} for i in range(3)]
    )
    later = make.poll("newVerdict", {"limit": 120}, state)
    assert sorted(v["subject"] for v in later) == ["new 0", "new 1", "new 2"]
    assert ascending(later, "scanned_at")
    marks = make.epoch("newVerdict", {"limit": 10})
    assert len(marks) == 153
    assert set(marks[0]) == {"label", "date"}


def test_new_verdict_filters(exported: Path, sandbox: SandboxServer, admin: SandboxAdmin) -> None:
    account = admin.new_account(domains=("example.com", "example.org"))
    admin.traffic(account, 80, spread_seconds=600, seed=3)
    filters = {"domain": "example.org", "verdict": ["spam", "phishing"]}
    found = app(exported, account, admin).poll(
        "newVerdict", {**filters, "limit": 500}, TriggerState()
    )
    verdict = operation("new_verdict")
    reference, _ = runner(sandbox, account).poll_page(verdict, filters, None, None, 500, "desc")
    assert found
    assert [v["id"] for v in found] == in_make_order(reference, "scanned_at")
    assert {v["domain"] for v in found} == {"example.org"}
    assert {v["verdict"] for v in found} <= {"spam", "phishing"}


def test_new_quarantined_message_and_new_domain(exported: Path, admin: SandboxAdmin) -> None:
    account = admin.new_account(domains=("one.example", "two.example", "three.example"))
    admin.traffic(account, 60, spread_seconds=600, seed=11)
    make = app(exported, account, admin)
    held = make.poll("newQuarantinedMessage", {"limit": 500}, TriggerState())
    assert held
    assert ascending(held, "quarantined_at")
    only = make.poll(
        "newQuarantinedMessage", {"domain": "two.example", "limit": 500}, TriggerState()
    )
    assert [m["id"] for m in only] == [m["id"] for m in held if m["domain"] == "two.example"]
    state = TriggerState()
    domains = make.poll("newDomain", {"limit": 2}, state)
    admin.public(
        account, "POST", "/domains", {"domain": "four.example", "real_mx_host": "mail.four.example"}
    )
    listed = admin.public(account, "GET", "/domains?limit=500").json()["data"]
    expected = in_make_order(listed, "created_at")
    assert [d["id"] for d in domains] == expected[:2]
    assert [d["id"] for d in make.poll("newDomain", {"limit": 2}, state)] == expected[2:]


def test_the_evaluator_follows_makes_documented_iml() -> None:
    """What Make documents of IML, checked on the evaluator itself: ``ifempty`` falls back only for
    undefined, null or an empty string; equality is strict; dates keep milliseconds."""
    scope: dict[str, Any] = {
        "parameters": {"text": "", "none": None, "list": [], "zero": 0, "no": False, "one": 1}
    }

    def value(expression: str) -> Any:
        return evaluate("{{" + expression + "}}", scope)

    for empty in ("parameters.missing", "parameters.none", "parameters.text"):
        assert value(f"ifempty({empty}, 'fallback')") == "fallback", empty
    assert value("ifempty(parameters.list, 'fallback')") == []
    assert value("ifempty(parameters.zero, 'fallback')") == 0
    assert value("ifempty(parameters.no, 'fallback')") is False
    assert value("parameters.one == '1'") is False
    assert value("parameters.one == 1") is True
    assert value("parameters.no == 0") is False
    assert value("parameters.missing == null") is False
    assert value("parameters.none == null") is True
    assert value("parameters.missing") is UNDEFINED
    assert value("parameters.list == parameters.list") is True  # the same array
    assert value("map(parameters.list, 'a') == map(parameters.list, 'a')") is False  # two arrays
    assert parse_date("2030-01-02T03:04:05.123456Z") == parse_date("2030-01-02T03:04:05.123Z")
    assert parse_date("2030-01-02T03:04:05.123999Z") < parse_date("2030-01-02T03:04:05.124Z")


def reference_error(call: Any) -> str:
    """The reference's error message: a conflict it found, or the API's error."""
    with pytest.raises((ActionConflictError, APIError)) as failed:
        call()
    return str(failed.value)


def test_stats_sender_rules_and_a_verdict_are_found_as_the_reference_finds_them(
    exported: Path, sandbox: SandboxServer, admin: SandboxAdmin
) -> None:
    account, ids = account_with_mail(admin)
    make, ref = app(exported, account, admin), runner(sandbox, account)
    ops = {op.key: op for op in files.load_operations(MANIFESTS)}
    for rule in (
        {"pattern": "*@spam.example", "action": "block"},
        {"pattern": "a@ok.example", "action": "allow"},
    ):
        make.module("addSenderRule", {"domain": "example.com", **rule})
    for inputs in (
        {"domain": "example.com"},
        {"domain": "example.com", "action": "allow"},
        {"domain": "example.com", "pattern": "SPAM"},
    ):
        found = make.module("findSenderRules", inputs)
        assert found == ref.run(ops["find_sender_rules"], inputs), inputs
    assert [
        r["pattern"]
        for r in make.module("findSenderRules", {"domain": "example.com", "action": "allow"})
    ] == ["a@ok.example"]
    with pytest.raises(MakeError) as missing:
        make.module("findSenderRules", {"domain": "nowhere.example"})
    assert missing.value.status == 404

    (verdict,) = make.module("findVerdict", {"verdict_id": ids["held_verdict"]})
    assert [verdict] == ref.run(ops["find_verdict"], {"verdict_id": ids["held_verdict"]})
    assert verdict["subject"] == "A"
    assert make.module("findVerdict", {"verdict_id": "vrd_missing"}) == []
    by_message = {"message_id": ids["held_message_id"]}
    assert make.module("findVerdicts", by_message) == ref.run(ops["find_verdicts"], by_message)
    assert [v["id"] for v in make.module("findVerdicts", by_message)] == [ids["held_verdict"]]

    (stats,) = make.module("getAccountStats", {"domain": "example.com"})
    (reference,) = ref.run(ops["get_account_stats"], {"domain": "example.com"})
    counts = ("messages_scanned", "by_verdict", "by_action", "quarantined", "quarantine_held")
    assert {k: stats[k] for k in counts} == {k: reference[k] for k in counts}
    assert (stats["messages_scanned"], stats["quarantined"]) == (2, 2)
    window = {"since": "2000-01-01T00:00:00Z", "until": "2000-01-02T00:00:00Z"}
    (empty,) = make.module("getAccountStats", window)
    assert empty["messages_scanned"] == 0


def test_domains_and_sender_rules_with_repeats(
    exported: Path, sandbox: SandboxServer, admin: SandboxAdmin
) -> None:
    account = admin.new_account(domains=("example.com",))
    make, ref = app(exported, account, admin), runner(sandbox, account)
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
    make, ref = app(exported, account, admin), runner(sandbox, account)
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


def other_check(op: Operation) -> Any:
    """The rule's check reads an object the listing Make sends first is not under."""
    assert isinstance(op.repeat, Absent)
    return op.repeat.model_copy(update={"check": HttpRequest(method="GET", path="/api/v1/me")})


@pytest.mark.parametrize(
    ("key", "repeat"),
    [
        ("add_domain", lambda op: Empty()),  # a search's rule on a create
        ("find_quarantined_message", lambda op: Empty()),  # on a search that reads pages
        ("remove_sender_rule", other_check),
    ],
)
def test_a_repeat_rule_make_cannot_express_stops_the_export(
    tmp_path: Path, key: str, repeat: Callable[[Operation], Any]
) -> None:
    from connector.export import make
    from connector.export.common import load_bundle

    bundle = load_bundle(MANIFESTS, None)
    odd = [
        op.model_copy(update={"repeat": repeat(op)}) if op.key == key else op
        for op in bundle.operations
    ]
    with pytest.raises(ExportError, match=f"{key}: its repeat rule cannot be expressed for Make"):
        make.export(type(bundle)(bundle.connector, odd, bundle.base_url), tmp_path / "out")
    assert not (tmp_path / "out").exists()
