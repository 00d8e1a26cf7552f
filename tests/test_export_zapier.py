"""``mxguard export zapier``: the exported app passes Zapier's own schema checks and, run by
zapier-platform-core against a live sandbox, behaves as the manifests say: as the reference
interpreter (``actions/perform.py``), run by ``connector/manifest/runner.py``, does.

Needs Node 20+ and the pinned Zapier packages: ``npm ci --prefix tools/zapier``. Without them the
tests fail (they do not skip), saying so.
"""

from __future__ import annotations

import itertools
import json
import os
import secrets
import select
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from actions.errors import ActionConflictError
from api_client import APIError
from connector.cli import Settings, main
from connector.export import zapier
from connector.manifest import files
from connector.manifest.format import InputField
from connector.manifest.runner import ManifestRunner, prepare
from sandbox.server import SandboxServer
from tests.scenario_replay import ScenarioRun, expand, load_scenarios
from tests.support import Account, SandboxAdmin, account_with_mail
from tests.test_manifests import VOLATILE

ROOT = Path(__file__).resolve().parents[1]
MANIFESTS = ROOT / "manifests"
TOOLING = ROOT / "tools" / "zapier"
NODE_MODULES = TOOLING / "node_modules"
HARNESS = Path(__file__).resolve().parent / "js"
PINNED = ("zapier-platform-core", "zapier-platform-schema")
PAGE = 500  # the API's largest page, which the triggers read
NUMBERS = ("limit", "days")  # integer inputs, which Zapier sends as text


def node_env() -> dict[str, str]:
    """Node and the pinned Zapier packages, or a failure that says how to get them."""
    if shutil.which("node") is None:
        pytest.fail("node (20 or newer) is not on PATH; the Zapier export tests need it")
    for package in PINNED:
        installed = NODE_MODULES / package / "package.json"
        if not installed.exists():
            pytest.fail(f"{installed.parent} is missing: run `npm ci --prefix tools/zapier` first")
        if json.loads(installed.read_text())["version"] != zapier.CORE_VERSION:
            pytest.fail(f"{installed.parent} is stale: run `npm ci --prefix tools/zapier`")
    return {**os.environ, "NODE_ENV": "test", "NODE_PATH": str(NODE_MODULES)}


def node(script: str, *args: str) -> Any:
    done = subprocess.run(
        ["node", str(HARNESS / script), *args],
        capture_output=True,
        text=True,
        env=node_env(),
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


class ZapierApp:
    """The exported app in one node process (``tests/js/zapier_run.js``), one JSON line a call."""

    def __init__(self, export: Path) -> None:
        self.log = tempfile.TemporaryFile(mode="w+")  # noqa: SIM115 - lives as long as node
        self.process = subprocess.Popen(
            ["node", str(HARNESS / "zapier_run.js"), str(export)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.log,
            text=True,
            env=node_env(),
        )

    def call(
        self, method: str, token: str, inputs: dict[str, Any] | None = None, **options: Any
    ) -> dict[str, Any]:
        assert self.process.stdin is not None
        assert self.process.stdout is not None
        step = {"method": method, "authData": {"api_token": token}, "inputData": inputs or {}}
        step.update(options)
        self.process.stdin.write(json.dumps(step) + "\n")
        self.process.stdin.flush()
        ready, _, _ = select.select([self.process.stdout], [], [], 60)
        line = self.process.stdout.readline() if ready else ""
        if not line:
            self.log.seek(0)
            raise AssertionError(f"the harness did not answer {method}: {self.log.read()}")
        answer: dict[str, Any] = json.loads(line)
        return answer

    def ok(
        self, method: str, token: str, inputs: dict[str, Any] | None = None, **options: Any
    ) -> Any:
        answer = self.call(method, token, inputs, **options)
        assert answer["ok"], (method, inputs, answer)
        return answer["result"]

    def error(self, method: str, token: str, inputs: dict[str, Any] | None = None) -> Any:
        answer = self.call(method, token, inputs)
        assert not answer["ok"], (method, inputs, answer)
        assert token not in json.dumps(answer)
        return answer["error"]

    def close(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        self.process.wait(timeout=10)
        self.log.close()


def export_to(out: Path, base_url: str) -> Path:
    """Through the command line, as people run it."""
    args = ["export", "zapier", "--out", str(out), "--base-url", base_url]
    result = CliRunner().invoke(main, [*args, "--manifests", str(MANIFESTS)], obj=Settings())
    assert result.exit_code == 0, result.output
    return out


@pytest.fixture(scope="module")
def exported(roomy_sandbox: SandboxServer, tmp_path_factory: pytest.TempPathFactory) -> Path:
    node_env()
    return export_to(tmp_path_factory.mktemp("zapier") / "app", roomy_sandbox.base_url)


@pytest.fixture(scope="module")
def zap(exported: Path) -> Iterator[ZapierApp]:
    app = ZapierApp(exported)
    yield app
    app.close()


@pytest.fixture(scope="module")
def roomy_admin(roomy_sandbox: SandboxServer) -> SandboxAdmin:
    return SandboxAdmin(roomy_sandbox)


def method(key: str) -> str:
    """The path of an operation's perform in the app, e.g. ``creates.add_domain...``."""
    op = next(op for op in files.load_operations(MANIFESTS) if op.key == key)
    return f"{zapier.ZAPIER_GROUPS[op.kind]}.{key}.operation.perform"


# Tooling and the exported project ------------------------------------------------------------


def test_node_tooling_is_pinned_and_locked() -> None:
    package = json.loads((TOOLING / "package.json").read_text())
    assert package["dependencies"] == dict.fromkeys(PINNED, zapier.CORE_VERSION)
    lock = json.loads((TOOLING / "package-lock.json").read_text())
    assert lock["packages"][""]["dependencies"] == package["dependencies"]
    for name in PINNED:
        assert lock["packages"][f"node_modules/{name}"]["version"] == zapier.CORE_VERSION
    node_env()


def test_the_export_passes_zapiers_schema_and_mirrors_the_manifests(
    exported: Path, roomy_sandbox: SandboxServer
) -> None:
    checked = node("zapier_validate.js", str(exported))
    assert checked["app"] == []
    assert checked["triggers"] == {key: [] for key in checked["definition"]["triggers"]}
    app = checked["definition"]
    connector = files.load_connector(MANIFESTS)
    operations = files.load_operations(MANIFESTS)

    auth = app["authentication"]
    field = connector.auth.field
    assert auth["type"] == "custom"
    assert connector.bridge is not None
    assert auth["fields"] == [
        {
            "key": field.key,
            "label": field.label,
            "type": "password",
            "required": True,
            "helpText": field.help,
        },
        {  # optional: the instant triggers' bridge (tests/test_export_zapier_instant.py)
            "key": connector.bridge.url_field.key,
            "label": connector.bridge.url_field.label,
            "type": "string",
            "required": False,
            "helpText": connector.bridge.url_field.help,
        },
    ]
    assert auth["test"] == auth["connectionLabel"] == "$func$2$f$"
    assert app["beforeRequest"] == ["$func$2$f$"]

    groups: dict[str, set[str]] = {
        "triggers": {"list_domains"},
        "creates": set(),
        "searches": set(),
    }
    for op in operations:
        groups[zapier.ZAPIER_GROUPS[op.kind]].add(op.key)
        if op.instant is not None:  # its REST hook twin
            groups["triggers"].add(op.instant.key)
        made = app[zapier.ZAPIER_GROUPS[op.kind]][op.key]
        assert made["noun"] == op.noun
        assert made["display"]["label"] == op.label
        assert made["operation"]["sample"] == op.sample
        assert [f["key"] for f in made["operation"]["outputFields"]] == [f.key for f in op.output]
        primary = [f["key"] for f in made["operation"]["outputFields"] if f.get("primary")]
        assert primary == (["id"] if "id" in {f.key for f in op.output} else [])
        for spec, field_made in zip(op.inputs, made["operation"]["inputFields"], strict=True):
            assert field_made["key"] == spec.key
            assert field_made["required"] == spec.required
            assert field_made.get("list", False) == spec.multiple
            if spec.dynamic:
                assert field_made["dynamic"] == "list_domains.domain.domain"
            elif spec.choices:
                assert field_made["choices"] == spec.choices
            if spec.default is not None:
                assert field_made["default"] == str(spec.default)
    assert {name: set(app[name]) for name in groups} == groups
    assert app["triggers"]["list_domains"]["display"]["hidden"] is True

    package = json.loads((exported / "package.json").read_text())
    assert package["name"] == zapier.PACKAGE_NAME
    assert package["version"] == app["version"] == connector.version
    assert package["dependencies"] == {"zapier-platform-core": zapier.CORE_VERSION}
    assert app["platformVersion"] == zapier.CORE_VERSION
    shipped = json.loads((exported / "manifests" / "connector.json").read_text())
    assert shipped["base_url"] == roomy_sandbox.base_url
    for kind in ("triggers", "actions"):
        for source in (MANIFESTS / kind).glob("*.json"):
            assert (exported / "manifests" / kind / source.name).read_text() == source.read_text()
    readme = (exported / "README.md").read_text()
    for step in (
        "npm install",
        "zapier-platform login",
        "zapier-platform register",
        "zapier-platform push",
        "node@22",
    ):
        assert step in readme


def test_the_schema_check_catches_a_broken_app(exported: Path, tmp_path: Path) -> None:
    """The validation above is not vacuous: a missing sample and a bad key are reported."""
    broken = tmp_path / "broken"
    shutil.copytree(exported, broken)
    manifest = broken / "manifests" / "triggers" / "new_domain.json"
    manifest.write_text(manifest.read_text().replace('"sample"', '"no_sample"'))
    action = broken / "manifests" / "actions" / "find_domain.json"
    action.write_text(action.read_text().replace('"key": "find_domain"', '"key": "find domain"'))
    checked = node("zapier_validate.js", str(broken))
    assert any("sample" in e for e in checked["triggers"]["new_domain"])
    assert checked["app"]


HOST_NAMES = [
    *("Bücher.example", "faß.de", "ΑΒΓ.example", "例え.テスト", "Ⅻ.example", "e\u0301.example"),
    *("\uff25\uff38\uff21\uff2d\uff30\uff2c\uff25.com", "example.com.", " spaced.example "),
    *("EXAMPLE.COM", "xn--bcher-kva.example", "a.xn--p1ai", "mail..example", "-bad.example"),
    *("a_b.example", "ab--cd.example", "xn--zz.example", "localhost", "1.2.3.4", "example.123"),
    *("exa mple.com", "\u200d.example", "*@Spam.Example", "x@Bücher.example", "a@b@c.example"),
]


def test_host_names_are_prepared_as_the_reference_runner_does(exported: Path) -> None:
    """Node's IDN conversion (url.domainToASCII) against Python's idna, the reference."""

    def reference(kind: Any, value: str) -> str | None:
        try:
            return str(prepare([InputField(key="v", label="V", format=kind)], {"v": value})["v"])
        except ValueError:
            return None

    expected = [[reference("hostname", v), reference("sender_pattern", v)] for v in HOST_NAMES]
    assert node("zapier_hostnames.js", str(exported), json.dumps(HOST_NAMES)) == expected


def test_the_export_is_deterministic_and_never_overwrites_other_folders(tmp_path: Path) -> None:
    first = export_to(tmp_path / "first", "https://api.example.test")
    second = export_to(tmp_path / "second", "https://api.example.test")

    def tree(root: Path) -> dict[str, bytes]:
        return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}

    assert tree(first) == tree(second)
    assert export_to(first, "https://api.example.test") == first  # an earlier export: replaced
    assert tree(first) == tree(second)

    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("keep me")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "connector",
            "export",
            "zapier",
            "--out",
            str(foreign),
            "--manifests",
            str(MANIFESTS),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
        check=False,
    )
    assert done.returncode != 0
    assert "not an earlier export" in done.stderr
    assert [p.name for p in foreign.iterdir()] == ["notes.txt"]


# Running it against the sandbox -------------------------------------------------------------


def test_connection_test_label_and_token_checks(zap: ZapierApp, roomy_admin: SandboxAdmin) -> None:
    account = roomy_admin.new_account(domains=("example.com", "b.example"))
    me = zap.ok("authentication.test", account.token)
    assert me["name"] == "Test customer"
    assert zap.ok("authentication.connectionLabel", account.token, me) == "Test customer"

    malformed = zap.error("authentication.test", "mxg_live_tooshort")
    assert malformed["code"] == "invalid_token"
    assert "mxg_live_ or mxg_test_" in malformed["message"]
    unknown = "mxg_test_" + "A" * 43
    rejected = zap.error("authentication.test", unknown)
    assert rejected["status"] == 401
    assert "rejected the API token" in rejected["message"]

    listing = zap.ok("triggers.list_domains.operation.perform", account.token)
    assert sorted(item["domain"] for item in listing) == ["b.example", "example.com"]
    more = zap.ok("triggers.list_domains.operation.perform", account.token, meta={"page": 1})
    assert more == []


def test_a_rejected_token_asks_zapier_for_a_reconnection(
    zap: ZapierApp, roomy_admin: SandboxAdmin
) -> None:
    """A 401 in an operation is Zapier's ExpiredAuthError, so Zapier marks the connection stale,
    holds the Zap's runs and asks the user to reconnect; the connection test keeps a plain error
    with the status, shown while the user enters the token."""
    account = roomy_admin.new_account(domains=("example.com",))
    find = (method("find_domain"), {"domain": "example.com"})
    assert zap.ok(find[0], account.token, find[1])
    roomy_admin.call("DELETE", f"/tokens/{account.token_id}", expect=204)  # revoked
    unknown = "mxg_test_" + "B" * 43  # well formed, never issued
    calls = [
        find,
        (method("new_verdict"), {}),
        (method("add_domain"), {"domain": "b.example", "real_mx_host": "mail.b.example"}),
        (method("release_message"), {"message_id": "qmsg_1"}),
        ("triggers.list_domains.operation.perform", {}),
    ]
    for token in (account.token, unknown):
        for name, inputs in calls:
            error = zap.error(name, token, inputs)
            assert error == {
                "name": "ExpiredAuthError",
                "message": error["message"],
                "expiredAuth": True,
            }, name
            assert error["message"].startswith("MxGuard rejected the API token (HTTP 401: ")
            assert error["message"].endswith("Issue a new token in MxGuard and reconnect.")
        tested = zap.error("authentication.test", token)
        assert (tested["name"], tested["status"]) == ("AppError", 401)
        assert "rejected the API token" in tested["message"]


def test_throttling_and_server_errors_are_clear(zap: ZapierApp, roomy_admin: SandboxAdmin) -> None:
    account = roomy_admin.new_account(domains=("example.com",))
    roomy_admin.fault(status=429, retry_after=7, token_id=account.token_id)
    throttled = zap.error(method("new_domain"), account.token)
    assert throttled == {"name": "ThrottledError", "message": throttled["message"], "delay": 7}
    roomy_admin.fault(status=503, token_id=account.token_id)
    failed = zap.error(method("find_domain"), account.token, {"domain": "example.com"})
    assert failed["status"] == 503
    assert failed["message"].startswith("MxGuard answered HTTP 503: ")
    assert zap.ok(method("find_domain"), account.token, {"domain": "example.com"})


# (operation, inputs as Zapier sends them, expected outcome: a result's outcome, an error's
# status, or a search's number of results); {held}, {other} and {rule} are ids made on the way.
IDN = "xn--bcher-kva.example"  # Bücher.example
RULE = {"domain": "example.com", "pattern": "*@spam.example"}
ACTION_STEPS: list[tuple[str, dict[str, str], str | int]] = [
    ("add_domain", {"domain": "Bücher.example", "real_mx_host": "mail.example.com"}, "created"),
    ("add_domain", {"domain": "bücher.example", "real_mx_host": "MAIL.example.com"}, "existing"),
    ("add_domain", {"domain": "bücher.example", "real_mx_host": "other.example.com"}, 409),
    ("update_domain", {"domain": IDN, "real_mx_host": "mx2.example.com"}, "updated"),
    ("find_domain", {"domain": "BÜCHER.example."}, 1),
    ("find_domain", {"domain": "nothing.example"}, 0),
    (
        "add_sender_rule",
        {**RULE, "pattern": "*@Spam.example", "action": "block", "note": "bulk"},
        "created",
    ),
    ("add_sender_rule", {**RULE, "action": "block"}, "existing"),
    ("add_sender_rule", {**RULE, "action": "allow"}, 409),
    ("remove_sender_rule", {"domain": "example.com", "rule_id": "{rule}"}, "removed"),
    ("remove_sender_rule", {"domain": "example.com", "rule_id": "{rule}"}, "already_absent"),
    ("remove_sender_rule", {"domain": "missing.example", "rule_id": "rul_missing"}, 404),
    ("release_message", {"message_id": "{held}"}, "released"),
    ("release_message", {"message_id": "{held}"}, "already_released"),
    ("report_spam", {"message_id": "{other}"}, "reported"),
    ("report_spam", {"message_id": "{other}"}, "already_reported"),
    ("release_message", {"message_id": "{other}"}, 409),
    ("find_quarantined_message", {"sender": "DEALS", "status": "released"}, 1),
    ("find_quarantined_message", {"status": "reported", "limit": "5", "days": "2"}, 1),
    ("remove_domain", {"domain": IDN}, "removed"),
    ("remove_domain", {"domain": IDN}, "already_absent"),
    ("add_sender_rule", {**RULE, "pattern": "x@ok.example", "action": "allow"}, "created"),
    ("find_sender_rules", {"domain": "example.com"}, 1),
    ("find_sender_rules", {"domain": "example.com", "pattern": "OK.", "action": "allow"}, 1),
    ("find_sender_rules", {"domain": "example.com", "action": "block"}, 0),
    ("find_sender_rules", {"domain": "missing.example"}, 404),
    ("find_verdict", {"verdict_id": "{held_verdict}"}, 1),
    ("find_verdict", {"verdict_id": "vrd_missing"}, 0),
    ("find_verdicts", {"message_id": "{held_message_id}", "days": "2"}, 1),
    ("find_verdicts", {"sender": "PHISH", "limit": "5"}, 1),
    ("get_account_stats", {"domain": "example.com"}, 1),
    ("get_account_stats", {"since": "2000-01-01T00:00:00Z", "until": "2000-01-02T00:00:00Z"}, 1),
]


def _normal(result: Any) -> Any:
    if isinstance(result, list):
        return [_normal(item) for item in result]
    return {k: v for k, v in result.items() if k not in VOLATILE}


def test_actions_and_searches_do_what_the_manifests_say(
    zap: ZapierApp, roomy_admin: SandboxAdmin, roomy_sandbox: SandboxServer
) -> None:
    """Each step through Zapier and through the reference interpreter, on twin accounts."""
    # All of the project's creates and searches (one added by `mxguard scaffold` is covered by
    # the schema test until steps are written for it here).
    actions = {op.key for op in files.load_operations(MANIFESTS) if op.kind != "trigger"}
    assert {key for key, _, _ in ACTION_STEPS} <= actions
    account, ids = account_with_mail(roomy_admin)
    twin, twin_ids = account_with_mail(roomy_admin)
    runner = ManifestRunner(files.load_connector(MANIFESTS), roomy_sandbox.base_url, twin.token)
    operations = {op.key: op for op in files.load_operations(MANIFESTS)}
    got: list[Any] = []
    for key, raw, expected in ACTION_STEPS:
        answer = zap.call(method(key), account.token, {k: v.format(**ids) for k, v in raw.items()})
        assert account.token not in json.dumps(answer)
        mine = answer["result"] if answer["ok"] else answer["error"]
        outcome = len(mine) if isinstance(mine, list) else mine.get("outcome", mine.get("status"))
        assert outcome == expected, (key, raw, mine)
        # The runner takes typed values, as the Python definitions do; Zapier sends text.
        typed = {k: int(v) if k in NUMBERS else v.format(**twin_ids) for k, v in raw.items()}
        try:
            reference = runner.run(operations[key], typed)
        except APIError as error:
            reference = {"status": error.status}
        except ActionConflictError as error:  # raised after reading the account: no status
            reference = {"status": 409, "message": error.message}
        if answer["ok"]:
            assert _normal(mine) == _normal(reference), key
        else:
            assert mine["status"] == reference["status"], key
            if "message" in reference:  # the same words, with this account's ids
                message = reference["message"]
                for name, twin_id in twin_ids.items():
                    message = message.replace(twin_id, ids[name])
                assert mine["message"] == message, key
        got.append(mine)
        if key == "add_sender_rule" and expected == "created":
            ids["rule"], twin_ids["rule"] = mine["id"], reference["id"]

    assert got[2]["message"] == (
        "xn--bcher-kva.example already exists with MX host mail.example.com; "
        "use Update Domain to change it"
    )
    assert got[3]["real_mx_host"] == "mx2.example.com"
    assert got[4][0]["domain"] == "xn--bcher-kva.example"
    assert (got[6]["pattern"], got[6]["note"]) == ("*@spam.example", "bulk")
    assert "already has a block rule for *@spam.example" in got[8]["message"]
    assert got[16]["message"] == (
        f"message {ids['other']} is reported; only held messages can be released"
    )
    assert [m["sender"] for m in got[17]] == ["x@deals.example"]
    assert [m["status"] for m in got[18]] == ["reported"]
    assert got[19] == {"id": "xn--bcher-kva.example", "outcome": "removed"}
    assert got[23][0]["pattern"] == "x@ok.example"
    assert got[26][0]["subject"] == "A"
    assert [v["subject"] for v in got[28]] == ["A"]
    assert [v["sender"] for v in got[29]] == ["y@phish.example"]
    assert (got[30][0]["messages_scanned"], got[30][0]["quarantined"]) == (2, 2)
    assert got[31][0]["messages_scanned"] == 0, "a window before everything is empty"


def test_inputs_are_checked_before_anything_is_sent(
    zap: ZapierApp, roomy_admin: SandboxAdmin
) -> None:
    account = roomy_admin.new_account(domains=("example.com",))
    cases: list[tuple[str, dict[str, Any], str]] = [
        ("add_domain", {"domain": "not a host", "real_mx_host": "mail.example.com"}, "Domain: "),
        ("add_domain", {"domain": "example.org"}, "Real MX host: required"),
        (
            "add_sender_rule",
            {"domain": "example.com", "pattern": "a@b.example", "action": "maybe"},
            'Action: "maybe" is not one of allow, block',
        ),
        ("find_quarantined_message", {"limit": "1000"}, "Limit: at most 100"),
        ("find_quarantined_message", {"days": "two"}, 'Days: "two" is not a whole number'),
        ("release_message", {"message_id": "../me"}, "Message ID: not an id"),
        ("new_verdict", {"verdict": ["spam", "ham"]}, 'Verdict: "ham" is not one of'),
    ]
    before = roomy_admin.requests_served(account)["total"]
    for key, inputs, message in cases:
        error = zap.error(method(key), account.token, inputs)
        assert (error["code"], error["status"]) == ("invalid_input", 400), key
        assert error["message"].startswith(message), error
    assert roomy_admin.requests_served(account)["total"] == before


# Triggers -------------------------------------------------------------------------------------


def _newest_first(admin: SandboxAdmin, account: Account, path: str) -> list[str]:
    """Every visible item, newest first, straight from the API."""
    ids: list[str] = []
    query = f"{path}?order=desc&limit={PAGE}"
    while True:
        page = admin.public(account, "GET", query).json()
        ids += [item["id"] for item in page["data"]]
        if not page["has_more"]:
            return ids
        query = f"{path}?order=desc&limit={PAGE}&cursor={page['next_cursor']}"


def test_a_burst_within_the_bound_comes_back_whole_and_newest_first(
    zap: ZapierApp, roomy_admin: SandboxAdmin
) -> None:
    account = roomy_admin.new_account(domains=("example.com", "b.example"))
    roomy_admin.traffic(account, PAGE, spread_seconds=300, seed=3)
    roomy_admin.traffic(account, PAGE // 2, seed=4)  # a quarter of the burst shares one timestamp
    poll = method("new_verdict")
    fields = ["id", "scanned_at", "verdict", "domain"]
    items = zap.ok(poll, account.token, fields=fields)
    assert [item["id"] for item in items] == _newest_first(roomy_admin, account, "/verdicts")
    assert len(items) == PAGE * 3 // 2
    keys = [(item["scanned_at"], item["id"]) for item in items]
    assert all(a > b for a, b in itertools.pairwise(keys)), "strictly newest first"

    first_poll = zap.ok(poll, account.token, meta={"isPopulatingDedupe": True}, fields=["id"])
    assert [item["id"] for item in first_poll] == [item["id"] for item in items]
    sample = zap.ok(poll, account.token, meta={"isLoadingSample": True}, fields=["id"])
    assert [item["id"] for item in sample] == [item["id"] for item in items[:3]]

    filters = {"verdict": ["spam", "phishing"], "domain": "B.Example"}
    chosen = zap.ok(poll, account.token, filters, fields=fields)
    expected = [
        i["id"]
        for i in items
        if i["verdict"] in ("spam", "phishing") and i["domain"] == "b.example"
    ]
    assert [item["id"] for item in chosen] == expected
    assert expected

    held = zap.ok(method("new_quarantined_message"), account.token, fields=["id"])
    assert [item["id"] for item in held] == _newest_first(roomy_admin, account, "/quarantine")
    domains = zap.ok(method("new_domain"), account.token, fields=["domain"])
    assert [item["domain"] for item in domains] == ["b.example", "example.com"]


def test_a_burst_beyond_the_bound_returns_exactly_the_newest_bound_items(
    zap: ZapierApp, roomy_admin: SandboxAdmin
) -> None:
    """The documented limit (docs/export-zapier.md): older items of such a burst are not seen."""
    bound = zapier.POLL_MAX_PAGES * PAGE
    triggers = [op for op in files.load_operations(MANIFESTS) if op.kind == "trigger"]
    assert {zapier.poll_bound(op) for op in triggers} == {bound}
    account = roomy_admin.new_account(domains=("example.com",))
    roomy_admin.traffic(account, bound + 300, spread_seconds=600, seed=5)
    items = zap.ok(method("new_verdict"), account.token, fields=["id"])
    newest = _newest_first(roomy_admin, account, "/verdicts")
    assert len(newest) == bound + 300
    assert [item["id"] for item in items] == newest[:bound]


def test_a_late_item_is_returned_by_the_next_poll_among_newer_ones(
    zap: ZapierApp, roomy_admin: SandboxAdmin
) -> None:
    """Zapier fires what it has not seen: an item visible 100 s late is in the next poll."""
    account = roomy_admin.new_account(domains=("example.com",))
    late = f"vrd_late_{secrets.token_hex(8)}"
    roomy_admin.add_verdicts(
        account, [{"id": late, "domain": "example.com", "visible_after_seconds": 100}]
    )
    roomy_admin.traffic(account, 40, seed=6)
    poll = method("new_verdict")
    seen = {item["id"] for item in zap.ok(poll, account.token, fields=["id"])}
    assert len(seen) == 40
    roomy_admin.advance_clock(101)
    roomy_admin.traffic(account, 5, seed=7)
    again = [item["id"] for item in zap.ok(poll, account.token, fields=["id"])]
    new = [i for i in again if i not in seen]
    assert len(new) == 6
    assert late in new
    assert again == _newest_first(roomy_admin, account, "/verdicts")


def test_the_shared_delivery_scenarios_under_zapiers_dedupe(
    zap: ZapierApp, roomy_admin: SandboxAdmin, tmp_path: Path
) -> None:
    """The cursor scenario table (tests/data), with Zapier keeping the ids it has seen.

    Zapier's model: the Zap is turned on at the scenario's start (a first poll that only fills
    the dedupe table); each poll then fires the returned ids it has not seen. Zapier must never
    fire an item later than the cursor algorithm does (it may fire a late item earlier), and in
    the end fires exactly the expected items, plus those stamped before the Zap was turned on
    but visible only after (it cannot tell them from late arrivals; the cursor skips them).
    A poll is one call here, so ``after_page`` steps run before it; restarts and crashes of
    the Python poller do not apply.
    """
    defaults, scenarios = load_scenarios()
    poll = method("new_verdict")
    for number, scenario in enumerate(scenarios):
        account = roomy_admin.new_account(domains=("example.com",))
        run = ScenarioRun(roomy_admin, account, defaults, tmp_path / f"{number}.sqlite")
        turned_on = zap.ok(poll, account.token, meta={"isPopulatingDedupe": True}, fields=["id"])
        seen = {item["id"] for item in turned_on}
        fired: list[str] = []
        expected: set[str] = set()
        before_start: set[str] = set()
        for step in scenario["steps"]:
            if step["op"] in ("add", "add_many"):
                before_start |= {i["id"] for i in step.get("items", []) if i["at"] < 0}
            if step["op"] != "poll":
                if step["op"] != "restart":
                    run.run_step(step)
                continue
            for inner in step.get("after_page", {}).get("steps", []):
                run.run_step(inner)
            returned = [item["id"] for item in zap.ok(poll, account.token, fields=["id"])]
            fired += [i.split("_", 1)[1] for i in returned if i not in seen]
            seen |= set(returned)
            expected |= set(expand(step["expect"]))
            assert expected <= set(fired), (scenario["name"], step)
        assert len(fired) == len(set(fired)), scenario["name"]
        assert set(fired) == expected | before_start, scenario["name"]
