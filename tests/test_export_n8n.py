"""``mxguard export n8n``: the package passes n8n's own linter and build, and the compiled nodes,
run under Node against a live sandbox, keep the Python trigger's delivery guarantees (the shared
scenario table) and the manifests' action semantics (compared with the reference runner).

n8n's tooling comes from ``tools/n8n-lint`` (``npm ci --prefix tools/n8n-lint``); without it these
tests fail rather than skip, so a CI that forgot the install step cannot pass silently.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import math
import os
import queue
import re
import shutil
import subprocess
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml
from click.testing import CliRunner

from actions import ActionConflictError
from api_client import APIError
from api_client.contract import DEFAULT_PER_HOUR
from bridge.signing import body as delivery_body
from bridge.signing import signed_headers
from connector.cli import Settings, main
from connector.export import n8n
from connector.export.common import load_bundle
from connector.export.n8n import export
from connector.export.n8n_properties import value_of
from connector.export.n8n_spec import CURSOR_TUNING, camel, param_name
from connector.manifest import files
from connector.manifest.runner import ManifestRunner
from sandbox.server import SandboxServer
from sandbox.timefmt import format_us, parse_to_us
from tests.bridge_live import LiveBridge, wait_for
from tests.bridge_support import Receiver
from tests.scenario_replay import ScenarioRun, load_scenarios
from tests.support import Account, SandboxAdmin, account_with_mail
from tests.test_manifests import STEPS, VOLATILE
from triggers.cursor import SKEW_MARGIN_S
from triggers.poller import ACTION_RESERVE, default_budget

ROOT = Path(__file__).resolve().parents[1]
MANIFESTS = ROOT / "manifests"
TOOLS = ROOT / "tools" / "n8n-lint"
TOOLING = TOOLS / "node_modules"
HARNESS = ROOT / "tests" / "js" / "n8n_harness.js"
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
DEFAULTS, SCENARIOS = load_scenarios()
MICROS = 1_000_000


# -- building ------------------------------------------------------------------------------------
def n8n_node() -> Path:
    """The ``n8n-node`` command of n8n's official tooling; a clear failure when not installed."""
    binary = TOOLING / ".bin" / "n8n-node"
    if not binary.exists():
        pytest.fail(
            f"n8n's node tooling is missing ({binary}): run `npm ci --prefix tools/n8n-lint`",
            pytrace=False,
        )
    return binary


def run_n8n_node(package: Path, command: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PATH": f"{TOOLING / '.bin'}{os.pathsep}{os.environ.get('PATH', '')}"}
    return subprocess.run(
        [str(n8n_node()), command],
        cwd=package, env=env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip


def tool_output(result: subprocess.CompletedProcess[str]) -> str:
    text = ANSI.sub("", result.stdout + result.stderr)
    return "\n".join(line for line in text.splitlines() if "nodedir" not in line)


def export_package(out: Path, base_url: str | None = None) -> Path:
    """Export through the real command, with n8n's tooling linked in as its node_modules."""
    args = ["export", "n8n", "--out", str(out), "--manifests", str(MANIFESTS)]
    args += ["--base-url", base_url] if base_url else []
    result = CliRunner().invoke(main, args, obj=Settings())
    assert result.exit_code == 0, result.output
    (out / "node_modules").symlink_to(TOOLING, target_is_directory=True)
    return out


def build_package(out: Path, base_url: str | None = None) -> Path:
    package = export_package(out, base_url)
    built = run_n8n_node(package, "build")
    assert built.returncode == 0, tool_output(built)
    return package


@pytest.fixture(scope="module")
def package(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_package(tmp_path_factory.mktemp("n8n") / "n8n-nodes-mxguard")


# -- the node harness ----------------------------------------------------------------------------
class HarnessError(Exception):
    def __init__(self, error: dict[str, Any]) -> None:
        super().__init__(f"{error['name']}: {error['message']}")
        self.error = error

    @property
    def status(self) -> int:
        code = self.error.get("httpCode")
        return int(code) if code else 0


class Harness:
    """``tests/js/n8n_harness.js`` in a Node process: one JSON line per command and answer."""

    def __init__(self, package: Path, timeout: float = 120) -> None:
        self.timeout = timeout
        self.process = subprocess.Popen(
            ["node", str(HARNESS), str(package)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1,
        )  # fmt: skip
        self.lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line)
        self.lines.put(None)

    def _send(self, message: dict[str, Any]) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps(message) + "\n")
        self.process.stdin.flush()

    def call(
        self,
        command: dict[str, Any],
        on_hook: Callable[[int], dict[str, Any] | None] | None = None,
    ) -> dict[str, Any]:
        """Send a command and wait for its answer; ``on_hook`` runs the steps a poll asks for
        between two pages and may return what the resume tells the harness (``now_us``)."""
        self._send(command)
        while True:
            line = self.lines.get(timeout=self.timeout)
            if line is None:
                raise RuntimeError(f"the node harness exited ({self.process.wait()})")
            answer: dict[str, Any] = json.loads(line)
            if answer["event"] == "hook":
                assert on_hook is not None, answer
                self._send({"cmd": "resume", **(on_hook(answer["page"]) or {})})
            elif answer["event"] == "error":
                raise HarnessError(answer["error"])
            else:
                return answer

    def close(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


@pytest.fixture(scope="module")
def harness(package: Path) -> Iterator[Harness]:
    running = Harness(package)
    yield running
    running.close()


def credentials(admin: SandboxAdmin, account: Account) -> dict[str, str]:
    return {"baseUrl": admin.base_url, "apiToken": account.token}


def sandbox_now(admin: SandboxAdmin) -> int:
    return parse_to_us(admin.now())


# -- the package ---------------------------------------------------------------------------------
def test_package_follows_n8n_community_rules(package: Path) -> None:
    manifest = json.loads((package / "package.json").read_text())
    assert manifest["name"].startswith("n8n-nodes-")
    assert "n8n-community-node-package" in manifest["keywords"]
    assert manifest["n8n"]["n8nNodesApiVersion"] == 1
    for path in manifest["n8n"]["nodes"] + manifest["n8n"]["credentials"]:
        assert path.startswith("dist/")
        assert (package / path).is_file(), path
    assert "dependencies" not in manifest
    assert manifest["peerDependencies"] == {"n8n-workflow": "*"}
    tools = json.loads((TOOLS / "package.json").read_text())["devDependencies"]
    for name, version in manifest["devDependencies"].items():
        assert tools[name] == version, f"{name}: the package and tools/n8n-lint disagree"
    assert (package / "dist" / "icons" / "mxguard.svg").is_file()


def test_n8n_node_lint_passes(package: Path) -> None:
    linted = run_n8n_node(package, "lint")
    assert linted.returncode == 0, tool_output(linted)


def test_descriptions_cover_every_manifest(harness: Harness) -> None:
    described = harness.call({"cmd": "describe"})
    operations = files.load_operations(MANIFESTS)
    action, trigger = described["action"], described["trigger"]
    listed = {o["value"] for p in action["properties"] if p["name"] == "operation"
              for o in p["options"]}  # fmt: skip
    assert listed == {camel(op.key) for op in operations if op.kind != "trigger"}
    events = next(p for p in trigger["properties"] if p["name"] == "event")
    assert {o["value"] for o in events["options"]} == {
        camel(op.key) for op in operations if op.kind == "trigger"
    }
    assert trigger["name"].endswith("Trigger")
    assert trigger["inputs"] == []
    assert trigger["polling"] is True
    assert "usableAsTool" not in trigger
    assert action["usableAsTool"] is True
    assert action["subtitle"]
    credential = described["credential"]
    assert credential["name"].endswith("Api")
    token = next(p for p in credential["properties"] if p["name"] == "apiToken")
    assert token["typeOptions"] == {"password": True}
    base = next(p for p in credential["properties"] if p["name"] == "baseUrl")
    assert base["default"] == "https://app.mxguard.uk"
    assert credential["authenticate"]["properties"]["headers"] == {
        "Authorization": "=Bearer {{$credentials.apiToken}}"
    }
    assert credential["test"]["request"]["url"] == "/api/v1/me"
    assert "getDomains" in described["loadOptions"]["action"]


def test_base_url_option_sets_the_credential_default(tmp_path: Path) -> None:
    package = export_package(tmp_path / "pkg", "http://127.0.0.1:9999/")
    text = (package / "credentials" / "MxGuardApi.credentials.ts").read_text()
    assert "default: 'http://127.0.0.1:9999'," in text


def test_export_refuses_a_folder_that_is_not_an_export(tmp_path: Path) -> None:
    (tmp_path / "keep.txt").write_text("mine")
    bundle = load_bundle(MANIFESTS, None)
    with pytest.raises(FileExistsError):
        export(bundle, tmp_path)


# -- publishing ----------------------------------------------------------------------------------
CODEX_CATEGORIES = {"Data & Storage", "Finance & Accounting", "Marketing & Content", "Productivity",
                    "Miscellaneous", "Sales", "Development", "Analytics", "Communication",
                    "Utility"}  # fmt: skip
"""The node categories n8n's codex file documentation lists."""


def test_package_is_publishable_as_a_verified_community_node(
    package: Path, harness: Harness
) -> None:
    """What n8n's node template (@n8n/node-cli) gives a package to publish with provenance."""
    manifest = json.loads((package / "package.json").read_text())
    assert manifest["repository"] == {"type": "git", "url": f"git+{n8n.REPOSITORY}.git"}
    assert manifest["scripts"]["prepublishOnly"] == "n8n-node prerelease"
    assert manifest["scripts"]["release"] == "n8n-node release"
    assert manifest["publishConfig"]["provenance"] is True

    workflow = yaml.safe_load((package / ".github" / "workflows" / "publish.yml").read_text())
    assert workflow[True] == {"push": {"tags": ["*.*.*"]}}  # YAML 1.1 reads the key `on` as True
    (job,) = workflow["jobs"].values()
    assert job["permissions"] == {"id-token": "write", "contents": "read"}
    steps = [step.get("run", "") for step in job["steps"]]
    assert any("GITHUB_REF_NAME" in run and "package.json" in run for run in steps)
    assert any("--ignore-scripts" in run for run in steps)
    assert steps[-1].rstrip().endswith("npm run release")
    assert not (package / "github").exists()

    described = harness.call({"cmd": "describe"})
    versions = {"MxGuard": described["action"]["version"],
                "MxGuardTrigger": described["trigger"]["version"],
                "MxGuardInstantTrigger": described["instant"]["version"]}  # fmt: skip
    assert {Path(path).parent.name for path in manifest["n8n"]["nodes"]} == set(versions)
    for path in manifest["n8n"]["nodes"]:
        built = package / path.removesuffix(".js")
        codex = json.loads(built.with_suffix(".node.json").read_text())
        source = package / path.removeprefix("dist/").removesuffix(".js")
        assert json.loads(source.with_suffix(".node.json").read_text()) == codex
        assert codex["node"] == manifest["name"]
        assert codex["nodeVersion"] == f"{versions[built.name.split('.')[0]]:.1f}"
        assert codex["codexVersion"] == "1.0"
        assert codex["categories"]
        assert set(codex["categories"]) <= CODEX_CATEGORIES
        assert codex["resources"] == {
            "primaryDocumentation": [{"url": f"{n8n.REPOSITORY}#readme"}],
            "credentialDocumentation": [{"url": f"{n8n.REPOSITORY}#credentials"}],
        }
    readme = (package / "README.md").read_text()
    for heading in ("## Operations", "## Credentials", "## Publishing"):
        assert f"\n{heading}\n" in readme
    assert ".github/workflows/publish.yml" in readme
    assert n8n.REPOSITORY in readme


def test_npm_publish_only_goes_through_the_release_workflow(package: Path) -> None:
    """A dry-run, offline `npm publish` stops at prepublishOnly unless RELEASE_MODE is set, as
    `n8n-node release` sets it in GitHub Actions; the codex files are among the published files."""
    if shutil.which("npm") is None:
        pytest.fail("npm is not on PATH; the n8n export tests need it", pytrace=False)
    env = {k: v for k, v in os.environ.items() if k != "RELEASE_MODE"}
    env["PATH"] = f"{TOOLING / '.bin'}{os.pathsep}{env.get('PATH', '')}"
    env["npm_config_update_notifier"] = "false"
    command = ["npm", "publish", "--dry-run", "--offline", "--registry", "http://127.0.0.1:9/"]

    def publish(extra: dict[str, str]) -> tuple[int, str]:
        done = subprocess.run(
            command, cwd=package, env=env | extra, capture_output=True, text=True, timeout=300,
            check=False,
        )  # fmt: skip
        return done.returncode, done.stdout + done.stderr

    refused, output = publish({})
    assert refused != 0, output
    assert "n8n-node prerelease" in output
    assert "npm run release" in output
    allowed, output = publish({"RELEASE_MODE": "true"})
    assert allowed == 0, output
    assert "dist/nodes/MxGuard/MxGuard.node.json" in output
    assert "dist/nodes/MxGuardTrigger/MxGuardTrigger.node.json" in output
    assert "dist/nodes/MxGuardInstantTrigger/MxGuardInstantTrigger.node.json" in output


def test_the_repository_can_be_another(tmp_path: Path) -> None:
    bundle = load_bundle(MANIFESTS, None)
    made = export(bundle, tmp_path / "pkg", repository="https://github.com/acme/n8n-nodes-x.git")
    manifest = json.loads((made / "package.json").read_text())
    assert manifest["repository"]["url"] == "git+https://github.com/acme/n8n-nodes-x.git"
    codex = json.loads((made / "nodes" / "MxGuard" / "MxGuard.node.json").read_text())
    assert codex["resources"]["primaryDocumentation"] == [
        {"url": "https://github.com/acme/n8n-nodes-x#readme"}
    ]
    with pytest.raises(ValueError, match=r"github\.com/OWNER/NAME"):
        export(bundle, tmp_path / "other", repository="https://gitlab.com/acme/x")


# -- what n8n does with the trigger's cursor when it crashes -------------------------------------
# The settings n8n 2.41.1 needs for durable poll cursors; without them its PollCursorService logs
# that durable poll cursors stay disabled.
DURABLE_CURSOR_SETTINGS = {
    "N8N_SCHEDULER_ENABLED",
    "N8N_SCHEDULER_POLL_TRIGGERS_ENABLED",
    "N8N_POLLER_DURABLE_CURSORS_ENABLED",
    "N8N_USE_WORKFLOW_PUBLICATION_SERVICE",
}


def test_the_crash_semantics_in_the_docs_are_n8ns() -> None:
    """docs/export-n8n.md must not promise what n8n's default mode does not keep, and may only
    name n8n settings that the installed n8n has."""
    text = (ROOT / "docs" / "export-n8n.md").read_text()
    assert "Nothing is ever lost" not in text
    assert "\n### Crashes" in text
    crashes = text.split("\n### Crashes", 1)[1].split("\n## ", 1)[0]
    assert "items are skipped" in crashes
    assert "emits them again" in crashes
    named = set(re.findall(r"\bN8N_[A-Z_]+\b", crashes))
    assert named >= DURABLE_CURSOR_SETTINGS
    configs = TOOLING / "@n8n" / "config" / "dist" / "configs"
    settings = "\n".join(path.read_text() for path in configs.glob("*.js"))
    for name in named:
        assert f"'{name}'" in settings, f"{name} is not a setting of the installed n8n"
    typings = (TOOLING / "n8n-workflow" / "dist" / "esm" / "interfaces.d.ts").read_text()
    assert "durably stored between polls" in typings  # PollCursor, which the feature commits
    assert "__commitCursor" in typings


def test_timestamps_keep_microseconds_and_time_zones(harness: Harness) -> None:
    stamps = ["2026-11-23T18:55:12.123456Z", "2026-11-23T18:55:12.1234567+01:00",
              "2016-12-31T23:59:60Z", "2026-11-23T10:00:00", "2026-07-01 10:00", "2026-11-23",
              "yesterday"]  # fmt: skip
    berlin = harness.call({"cmd": "time", "texts": stamps, "timezone": "Europe/Berlin"})
    expected: list[int | None] = [parse_to_us(s) for s in stamps[:3]]
    expected += [parse_to_us("2026-11-23T09:00:00Z"), parse_to_us("2026-07-01T08:00:00Z")]
    expected += [parse_to_us("2026-11-22T23:00:00Z"), None]
    assert berlin["parsed"] == expected
    micros = [parse_to_us(stamps[0]), 0, 4102444799999999]
    formatted = harness.call({"cmd": "time", "texts": [], "micros": micros})["formatted"]
    assert formatted == [format_us(m) for m in micros]


# -- the trigger: the shared scenario table ------------------------------------------------------
STATE_FIELDS = {"floor", "watermark", "seen", "lastSweep", "resumeSince", "resumePage",
                "sweepStarted", "resumeUntil", "rate", "lastPoll", "spent"}  # fmt: skip
"""What the node keeps in its static data: ``CursorState`` of ``triggers/cursor.py``."""

UNLIMITED = 10**9
"""Requests per hour that no scenario reaches: the Python replay's budget of ``math.inf``."""


class NodeScenarioRun(ScenarioRun):
    """The scenario table's steps, with every poll made by the compiled n8n trigger: activation
    (no "Emit Items Since") or a backfill from T0, the scenario's budget as "Requests per Hour",
    requests counted by the sandbox as in the Python replay."""

    def __init__(
        self,
        admin: SandboxAdmin,
        account: Account,
        state_dir: Path,
        harness: Harness,
        scenario: dict[str, Any],
    ) -> None:
        super().__init__(admin, account, DEFAULTS, state_dir / "python-cursor.sqlite", scenario)
        self.harness = harness
        self.static_data = state_dir / "static-data.json"
        self.logged: list[dict[str, str]] = []

    def now_us(self) -> int:
        return self.t0 + int(self.elapsed * MICROS)

    def options(self) -> dict[str, Any]:
        budget = self.budget_per_hour
        options: dict[str, Any] = {"requestsPerHour": UNLIMITED if math.isinf(budget) else budget}
        if not self.activate:
            options["since"] = format_us(self.t0)
        return options

    def poll(self, step: dict[str, Any]) -> tuple[list[str], int]:
        hook = step.get("after_page")

        def between_pages(page: int) -> dict[str, Any]:
            assert hook is not None
            assert hook["page"] == page
            for inner in hook["steps"]:
                self.run_step(inner)
            return {"now_us": self.now_us()}

        served = self.admin.requests_served(self.account)["total"]
        answer = self.harness.call(
            {
                "cmd": "poll",
                "parameters": {"event": "newVerdict", "options": self.options()},
                "credentials": credentials(self.admin, self.account),
                "state": str(self.static_data),
                "now_us": self.now_us(),
                "page_size": self.page_size,
                "max_pages": step.get("max_pages"),
                "crash_after_page": step.get("crash_after_page"),
                "hook_page": hook["page"] if hook else None,
            },
            between_pages,
        )
        requests = self.admin.requests_served(self.account)["total"] - served
        assert answer["requests"] == requests, (answer["requests"], requests)
        self.logged += answer["logged"]
        return [str(item["id"]).split("_", 1)[1] for item in answer["items"]], requests


def test_scenario_policy_is_the_manifests() -> None:
    verdicts = next(op for op in files.load_operations(MANIFESTS) if op.key == "new_verdict")
    assert verdicts.polling is not None
    assert verdicts.polling.lateness_bound_s == DEFAULTS["lateness_bound_s"]
    assert verdicts.polling.look_back_every_s == DEFAULTS["sweep_interval_s"]


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s["name"] for s in SCENARIOS])
def test_scenario(
    roomy_sandbox: SandboxServer, harness: Harness, scenario: dict[str, Any], tmp_path: Path
) -> None:
    admin = SandboxAdmin(roomy_sandbox)
    run = NodeScenarioRun(admin, admin.new_account(), tmp_path, harness, scenario)
    for step in scenario["steps"]:
        run.run_step(step)
    state = json.loads(run.static_data.read_text())
    assert set(state) == {"key", "cursor"}
    assert set(state["cursor"]) == STATE_FIELDS
    assert all(line["level"] in ("debug", "info") for line in run.logged), run.logged


# -- the trigger: modes, filters, first activation -----------------------------------------------
def _poll(
    harness: Harness, admin: SandboxAdmin, account: Account, state: Path, **parameters: Any
) -> dict[str, Any]:
    mode = parameters.pop("mode", "trigger")
    now_us = parameters.pop("now_us", None)
    return harness.call(
        {
            "cmd": "poll",
            "mode": mode,
            "parameters": {"event": "newVerdict", **parameters},
            "credentials": credentials(admin, account),
            "state": str(state),
            "now_us": sandbox_now(admin) if now_us is None else now_us,
        }
    )


POLL_GAP_S = 60
"""n8n polls at most once a minute; the budget plans with the interval measured between polls."""


def _add(admin: SandboxAdmin, account: Account, *verdicts: dict[str, Any]) -> None:
    admin.add_verdicts(account, [{"domain": "example.com", **v} for v in verdicts])


def test_first_activation_starts_from_now_and_returns_null(
    roomy_sandbox: SandboxServer, harness: Harness, tmp_path: Path
) -> None:
    admin = SandboxAdmin(roomy_sandbox)
    account = admin.new_account(domains=("example.com",))
    _add(admin, account, {"id": "before_1"}, {"id": "before_2"})
    admin.advance_clock(1)
    state = tmp_path / "static.json"
    first = _poll(harness, admin, account, state)
    assert first["items"] == []
    assert first["returned_null"] is True
    admin.advance_clock(POLL_GAP_S)
    _add(admin, account, {"id": "after_1"})
    assert [i["id"] for i in _poll(harness, admin, account, state)["items"]] == ["after_1"]
    admin.advance_clock(POLL_GAP_S)
    assert _poll(harness, admin, account, state)["returned_null"] is True


def test_backfill_option_emits_from_that_time(
    roomy_sandbox: SandboxServer, harness: Harness, tmp_path: Path
) -> None:
    admin = SandboxAdmin(roomy_sandbox)
    account = admin.new_account(domains=("example.com",))
    start = sandbox_now(admin)
    _add(admin, account, {"id": "bf_old", "scanned_at": format_us(start - 10 * MICROS)})
    _add(admin, account, {"id": "bf_new", "scanned_at": format_us(start + 1)})
    admin.advance_clock(2)
    since = {"since": format_us(start)}
    got = _poll(harness, admin, account, tmp_path / "s.json", options=since)["items"]
    assert [i["id"] for i in got] == ["bf_new"]
    with pytest.raises(HarnessError, match="not a date and time"):
        _poll(harness, admin, account, tmp_path / "t.json", options={"since": "yesterday"})


def test_manual_mode_returns_the_newest_item_and_keeps_no_cursor(
    roomy_sandbox: SandboxServer, harness: Harness, tmp_path: Path
) -> None:
    admin = SandboxAdmin(roomy_sandbox)
    account = admin.new_account(domains=("example.com",))
    _add(admin, account, {"id": "m_1"})
    admin.advance_clock(1)
    _add(admin, account, {"id": "m_2"})
    state = tmp_path / "static.json"
    answer = _poll(harness, admin, account, state, mode="manual")
    assert [i["id"] for i in answer["items"]] == ["m_2"]
    assert not state.exists()


def test_filters_are_applied_and_a_changed_filter_starts_a_new_cursor(
    roomy_sandbox: SandboxServer, harness: Harness, tmp_path: Path
) -> None:
    admin = SandboxAdmin(roomy_sandbox)
    account = admin.new_account(domains=("example.com", "b.example"))
    state = tmp_path / "static.json"
    spam = {"verdictAction": ["quarantined"], "verdict": ["spam", "phishing"]}
    assert _poll(harness, admin, account, state, domain="B.example", **spam)["items"] == []
    admin.advance_clock(POLL_GAP_S)
    _add(admin, account, {"id": "f_clean", "domain": "b.example"})
    _add(admin, account, {"id": "f_spam", "domain": "b.example", "verdict": "spam"})
    _add(admin, account, {"id": "f_other", "domain": "example.com", "verdict": "spam"})
    _add(admin, account, {"id": "f_phish", "domain": "b.example", "verdict": "phishing"})
    got = _poll(harness, admin, account, state, domain="b.example", **spam)["items"]
    assert [i["id"] for i in got] == ["f_spam", "f_phish"]
    assert _poll(harness, admin, account, state, domain="", **spam)["items"] == []
    with pytest.raises(HarnessError, match="not a host name"):
        _poll(harness, admin, account, state, domain="not a domain")


# -- the trigger: the budget, the cursor's constants, older cursors ------------------------------
def test_the_cursor_plans_with_the_python_constants(harness: Harness) -> None:
    """The compiled events' polling specs carry ``triggers/cursor.py``'s and
    ``triggers/poller.py``'s constants, not numbers of their own."""
    polling = harness.call({"cmd": "describe"})["polling"]
    assert polling
    for spec in polling.values():
        assert {key: spec[key] for key in CURSOR_TUNING} == CURSOR_TUNING
        assert spec["untilParam"] == "until"
    assert polling["newVerdict"]["skewMarginS"] == SKEW_MARGIN_S
    assert polling["newVerdict"]["actionReserve"] == ACTION_RESERVE


def test_requests_per_hour_defaults_to_the_tokens_limit_less_the_action_reserve(
    roomy_sandbox: SandboxServer, harness: Harness, tmp_path: Path
) -> None:
    described = harness.call({"cmd": "describe"})["trigger"]
    options = next(p for p in described["properties"] if p["name"] == "options")["options"]
    budget = next(o for o in options if o["name"] == "requestsPerHour")
    assert budget["displayName"] == "Requests per Hour"
    assert budget["type"] == "number"
    assert budget["default"] == default_budget(DEFAULT_PER_HOUR) == 500
    assert "500" in budget["description"]

    admin = SandboxAdmin(roomy_sandbox)
    account = admin.new_account(domains=("example.com",))
    state, start = tmp_path / "static.json", sandbox_now(admin)

    def poll(minute: int, **options: Any) -> str:
        """A poll ``minute`` minutes after the first, on an exact clock; what it logged."""
        now = start + minute * POLL_GAP_S * MICROS
        answer = _poll(harness, admin, account, state, now_us=now, options=options)
        return " ".join(_logged(answer))

    assert "budget" not in poll(0)  # the priming read at activation has no limit
    admin.advance_clock(POLL_GAP_S)
    assert "of 17 allowed (budget 500/h, 1 spent in the last hour)" in poll(1)  # 2 x 500 / 60
    admin.advance_clock(POLL_GAP_S)
    assert "of 2 allowed (budget 60/h, 2 spent in the last hour)" in poll(2, requestsPerHour=60)
    with pytest.raises(HarnessError, match="Requests per Hour"):
        poll(2, requestsPerHour=0)


def _logged(answer: dict[str, Any]) -> list[str]:
    return [line["message"] for line in answer["logged"]]


def test_a_cursor_stored_by_an_older_version_and_a_stale_page_still_load(
    roomy_sandbox: SandboxServer, harness: Harness, tmp_path: Path
) -> None:
    """A state without the fields added since loads with their defaults; a resumed read whose
    page cursor the API refuses starts over (as ``Poller`` does on ``InvalidRequestError``)."""
    admin = SandboxAdmin(roomy_sandbox)
    account = admin.new_account(domains=("example.com",))
    state = tmp_path / "static.json"
    _poll(harness, admin, account, state)
    saved = json.loads(state.read_text())
    older = {key: saved["cursor"][key] for key in ("floor", "watermark", "seen", "lastSweep")}
    older |= {"resumeSince": older["floor"], "resumePage": "no-longer-valid", "sweepStarted": None}
    state.write_text(json.dumps({**saved, "cursor": older}))
    admin.advance_clock(1)
    _add(admin, account, {"id": "older_1"})
    answer = _poll(harness, admin, account, state)
    assert [i["id"] for i in answer["items"]] == ["older_1"]
    assert answer["requests"] == 2  # the refused page, then the read from its start
    cursor = json.loads(state.read_text())["cursor"]
    assert set(cursor) == STATE_FIELDS
    assert cursor["resumePage"] is None
    assert sum(cursor["spent"].values()) == 1  # a refused request does not count (the API's too)


# -- the action node -----------------------------------------------------------------------------
def _normal(result: Any) -> Any:
    if isinstance(result, list):
        return [_normal(r) for r in result]
    return {k: v for k, v in result.items() if k not in VOLATILE}


def _reference(runner: ManifestRunner, op: Any, inputs: dict[str, Any]) -> Any:
    try:
        return ("ok", _normal(runner.run(op, inputs)))
    except (ActionConflictError, APIError) as error:
        return ("error", error.status or 409)


def _node(
    harness: Harness, admin: SandboxAdmin, account: Account, op: Any, inputs: dict[str, Any]
) -> Any:
    parameters = {"resource": value_of(op.noun), "operation": camel(op.key)}
    parameters |= {param_name(op.noun, key): value for key, value in inputs.items()}
    try:
        answer = harness.call(
            {"cmd": "execute", "parameters": parameters, "credentials": credentials(admin, account)}
        )
    except HarnessError as error:
        return ("error", error.status or 409)
    items = answer["items"]
    assert answer["paired"] == [{"item": 0}] * len(items)
    return ("ok", _normal(items if op.kind == "search" else items[0]))


def test_actions_behave_as_the_reference_runner(
    roomy_sandbox: SandboxServer, harness: Harness
) -> None:
    """Every action, repeats included (add twice: created/existing; release twice; searches)."""
    admin = SandboxAdmin(roomy_sandbox)
    reference_account, reference_ids = account_with_mail(admin)
    node_account, node_ids = account_with_mail(admin)
    runner = ManifestRunner(
        files.load_connector(MANIFESTS), roomy_sandbox.base_url, reference_account.token
    )
    operations = {op.key: op for op in files.load_operations(MANIFESTS)}
    outcomes: dict[str, list[Any]] = {}
    for key, inputs in STEPS:
        theirs = {k: str(v).format(**reference_ids) for k, v in inputs.items()}
        mine = {k: str(v).format(**node_ids) for k, v in inputs.items()}
        if "limit" in inputs:
            theirs["limit"] = mine["limit"] = inputs["limit"]
        expected = _reference(runner, operations[key], theirs)
        got = _node(harness, admin, node_account, operations[key], mine)
        assert got == expected, (key, inputs)
        result = got[1]
        outcomes.setdefault(key, []).append(
            result.get("outcome") if isinstance(result, dict) else result
        )
    assert outcomes["add_domain"] == ["created", "existing", 409]
    assert outcomes["release_message"][:2] == ["released", "already_released"]


def test_invalid_input_is_an_operation_error(
    roomy_sandbox: SandboxServer, harness: Harness
) -> None:
    admin = SandboxAdmin(roomy_sandbox)
    account = admin.new_account()
    parameters = {"resource": "domain", "operation": "addDomain", "domain": "no such host!"}
    with pytest.raises(HarnessError, match="not a host name") as raised:
        harness.call(
            {"cmd": "execute", "parameters": parameters, "credentials": credentials(admin, account)}
        )
    assert raised.value.error["name"] == "NodeOperationError"


def test_domain_dropdown_and_credential_test(
    roomy_sandbox: SandboxServer, harness: Harness
) -> None:
    admin = SandboxAdmin(roomy_sandbox)
    account = admin.new_account(domains=("example.com", "b.example"))
    creds = credentials(admin, account)
    listed = harness.call({"cmd": "loadOptions", "method": "getDomains", "credentials": creds})
    assert sorted(o["value"] for o in listed["options"]) == ["b.example", "example.com"]
    with_any = harness.call(
        {"cmd": "loadOptions", "node": "MxGuardTrigger", "method": "getDomainsOrAny",
         "credentials": creds}
    )  # fmt: skip
    assert with_any["options"][0] == {"name": "Any", "value": ""}
    assert harness.call({"cmd": "credentialTest", "credentials": creds})["status"] == 200
    wrong = {**creds, "apiToken": "mxg_test_" + "x" * 43}
    assert harness.call({"cmd": "credentialTest", "credentials": wrong})["status"] == 401


# -- the instant trigger: webhooks through a real bridge -----------------------------------------
INSTANT_EVENT = "newVerdictInstant"
HOOK_URL_PATH = "/webhook/harness/webhook"


def _instant_manifests() -> list[Any]:
    return [op for op in files.load_operations(MANIFESTS) if op.instant is not None]


@pytest.fixture(scope="module")
def live_bridge(
    roomy_sandbox: SandboxServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveBridge]:
    with LiveBridge(roomy_sandbox.base_url, tmp_path_factory.mktemp("bridge")) as bridge:
        yield bridge


def _bridge_get(bridge: LiveBridge, account: Account, target_url: str) -> list[dict[str, Any]]:
    """The account's subscriptions to ``target_url``, as the bridge lists them."""
    answer = requests.get(
        f"{bridge.url}/v1/subscriptions", params={"target_url": target_url},
        headers={"Authorization": f"Bearer {account.token}"}, timeout=10,
    )  # fmt: skip
    assert answer.status_code == 200, answer.text
    found: list[dict[str, Any]] = answer.json()["data"]
    return found


def _hook(
    harness: Harness, method: str, creds: dict[str, str], state: Path, url: str, **parameters: Any
) -> dict[str, Any]:
    return harness.call(
        {"cmd": "hook", "method": method, "credentials": creds, "state": str(state),
         "webhook_url": url, "workflow_id": "wfInstant",
         "parameters": {"event": INSTANT_EVENT, **parameters}}
    )  # fmt: skip


def _webhook(harness: Harness, state: Path, headers: dict[str, str], body: str) -> dict[str, Any]:
    return harness.call(
        {"cmd": "webhook", "state": str(state), "headers": headers, "body": body,
         "parameters": {"event": INSTANT_EVENT}}
    )  # fmt: skip


def test_instant_trigger_is_described_from_the_manifests(harness: Harness) -> None:
    described = harness.call({"cmd": "describe"})
    instant = described["instant"]
    assert instant["name"] == "mxGuardInstantTrigger"
    assert instant["group"] == ["trigger"]
    assert instant["inputs"] == []
    assert "polling" not in instant
    assert "usableAsTool" not in instant
    assert instant["webhooks"] == [
        {"name": "default", "httpMethod": "POST", "responseMode": "onReceived", "path": "webhook"}
    ]
    events = next(p for p in instant["properties"] if p["name"] == "event")
    operations = _instant_manifests()
    assert {o["value"]: o["name"] for o in events["options"]} == {
        camel(op.instant.key): op.instant.label for op in operations
    }
    for op in operations:  # each event's filters are the polling trigger's inputs
        shown = {p["name"] for p in instant["properties"]
                 if p.get("displayOptions", {}).get("show", {}).get("event") ==
                 [camel(op.instant.key)]}  # fmt: skip
        assert shown == {param_name(op.noun, f.key) for f in op.inputs}
    assert described["loadOptions"]["instant"] == ["getDomainsOrAny"]
    bridge_url = next(p for p in described["credential"]["properties"] if p["name"] == "bridgeUrl")
    assert bridge_url["default"] == ""
    assert "required" not in bridge_url
    assert "typeOptions" not in bridge_url  # an address, not a secret


def test_instant_trigger_subscribes_verifies_and_unsubscribes(
    roomy_sandbox: SandboxServer,
    harness: Harness,
    live_bridge: LiveBridge,
    receiver: Receiver,
    tmp_path: Path,
) -> None:
    """create subscribes the webhook URL with the filters and a secret made in the node; what
    the bridge delivers verifies and comes out as the polling trigger's items; anything altered
    is refused with 401; delete removes the subscription (a second time, or one the bridge no
    longer knows, too)."""
    admin = SandboxAdmin(roomy_sandbox)
    account = admin.new_account(domains=("example.com", "b.example"))
    creds = {**credentials(admin, account), "bridgeUrl": f"{live_bridge.url}/"}
    state, url = tmp_path / "static.json", receiver.url
    auth = {"Authorization": f"Bearer {account.token}"}
    stale = requests.post(f"{live_bridge.url}/v1/subscriptions", headers=auth, timeout=10,
                          json={"event": "new_verdict", "target_url": url})  # fmt: skip
    assert stale.status_code == 201, stale.text

    assert _hook(harness, "checkExists", creds, state, url)["result"] is False
    made = _hook(harness, "create", creds, state, url, domain="B.example", verdict=["phishing"])
    assert made["result"] is True
    stored = made["staticData"]
    assert set(stored) == {"subscriptionId", "secret", "event"}
    bridge = files.load_connector(MANIFESTS).bridge
    assert bridge is not None
    signature = bridge.signature
    assert stored["secret"].startswith(signature.secret_prefix)
    key = base64.b64decode(stored["secret"].removeprefix(signature.secret_prefix), validate=True)
    assert len(key) >= signature.secret_min_bytes
    (listed,) = _bridge_get(live_bridge, account, url)  # the stale one is gone
    assert listed["id"] == stored["subscriptionId"] != stale.json()["id"]
    assert listed["event"] == stored["event"] == "new_verdict"
    assert listed["filters"]["domain"] == "b.example"
    assert listed["filters"]["verdict"] == ["phishing"]
    assert _hook(harness, "checkExists", creds, state, url)["result"] is True
    assert _hook(harness, "checkExists", creds, state, url + "?other")["result"] is False

    served = admin.requests_served(account)["total"]
    wait_for(lambda: admin.requests_served(account)["total"] > served, 30, "the bridge's poll")
    verdicts = [{"id": "inst_1", "domain": "b.example", "verdict": "phishing"},
                {"id": "inst_2", "domain": "b.example", "verdict": "clean"},
                {"id": "inst_3", "domain": "example.com", "verdict": "phishing"},
                {"id": "inst_4", "domain": "b.example", "verdict": "phishing"}]  # fmt: skip
    admin.add_verdicts(account, verdicts)
    wait_for(lambda: len(receiver.received) >= 2, 30, "two deliveries")
    emitted = []
    for delivery in receiver.received:
        answer = _webhook(harness, state, delivery.headers, delivery.body)
        assert (answer["status"], answer["started"]) == (200, True), answer
        assert answer["items"] == [json.loads(delivery.body)["data"]]
        emitted += answer["items"]
    assert [item["id"] for item in emitted] == ["inst_1", "inst_4"]
    polled = ManifestRunner(files.load_connector(MANIFESTS), admin.base_url, account.token)
    verdict_op = next(op for op in files.load_operations(MANIFESTS) if op.key == "new_verdict")
    listing = polled.run(verdict_op, {"domain": "b.example", "verdict": ["phishing"]})
    assert sorted(emitted, key=lambda i: i["id"]) == sorted(listing, key=lambda i: i["id"])

    delivery = receiver.received[0]
    tampered = delivery.body.replace("inst_1", "inst_9")
    refused = _webhook(harness, state, delivery.headers, tampered)
    assert (refused["status"], refused["started"], refused["items"]) == (401, False, [])
    assert refused["response"] == {"error": "no v1 signature matches"}
    assert any(line["level"] == "warn" for line in refused["logged"])
    unsigned = {k: v for k, v in delivery.headers.items() if k.lower() != "webhook-signature"}
    assert _webhook(harness, state, unsigned, delivery.body)["status"] == 401
    # Signed with the node's secret by the Python side of the spec: only the timestamp decides.
    now = datetime.now(UTC)
    for moment, status in ((now, 200), (now - timedelta(seconds=301), 401)):
        headers = signed_headers(stored["secret"], "msg_python", moment, delivery.body)
        assert _webhook(harness, state, headers, delivery.body)["status"] == status
    other_event = delivery_body("new_domain", now, {"id": "dom_1", "domain": "b.example"})
    headers = signed_headers(stored["secret"], "msg_other", now, other_event)
    ignored = _webhook(harness, state, headers, other_event)  # trusted, but not this event
    assert (ignored["status"], ignored["started"], ignored["items"]) == (200, False, [])

    assert _hook(harness, "delete", creds, state, url)["result"] is True
    assert _bridge_get(live_bridge, account, url) == []
    assert json.loads(state.read_text()) == {}
    assert _hook(harness, "checkExists", creds, state, url)["result"] is False
    assert _webhook(harness, state, delivery.headers, delivery.body)["status"] == 401
    state.write_text(json.dumps(stored))  # a subscription the bridge no longer knows: 404
    assert _hook(harness, "delete", creds, state, url)["result"] is True
    assert json.loads(state.read_text()) == {}


def test_instant_trigger_refuses_a_missing_bridge_url_and_bad_filters_before_any_request(
    roomy_sandbox: SandboxServer, harness: Harness, live_bridge: LiveBridge, tmp_path: Path
) -> None:
    admin = SandboxAdmin(roomy_sandbox)
    account = admin.new_account(domains=("example.com",))
    state, url = tmp_path / "static.json", "http://127.0.0.1:9/webhook"
    creds = credentials(admin, account)
    for method in ("checkExists", "create"):
        with pytest.raises(HarnessError, match="has no Bridge URL") as raised:
            _hook(harness, method, creds, state, url)
        assert raised.value.error["name"] == "NodeOperationError"
    for wrong in ("bridge.example.com", "https://user:pw@bridge.example.com", "ftp://b.example"):
        with pytest.raises(HarnessError, match="Bridge URL is not an http"):
            _hook(harness, "create", {**creds, "bridgeUrl": wrong}, state, url)
    creds["bridgeUrl"] = live_bridge.url
    with pytest.raises(HarnessError, match="not a host name"):
        _hook(harness, "create", creds, state, url, domain="not a domain")
    assert _bridge_get(live_bridge, account, url) == []
    assert not state.exists() or json.loads(state.read_text()) == {}


def test_without_instant_triggers_the_package_has_no_instant_node(tmp_path: Path) -> None:
    bundle = load_bundle(MANIFESTS, None)
    polling_only = dataclasses.replace(
        bundle,
        connector=bundle.connector.model_copy(update={"bridge": None}),
        operations=[op.model_copy(update={"instant": None}) for op in bundle.operations],
    )
    package = export(polling_only, tmp_path / "pkg")
    manifest = json.loads((package / "package.json").read_text())
    assert not any("Instant" in path for path in manifest["n8n"]["nodes"])
    assert not (package / "nodes" / n8n.INSTANT_NODE).exists()
    assert "bridgeUrl" not in (package / "credentials" / "MxGuardApi.credentials.ts").read_text()
    (package / "node_modules").symlink_to(TOOLING, target_is_directory=True)
    built = run_n8n_node(package, "build")
    assert built.returncode == 0, tool_output(built)
    with pytest.raises(ValueError, match="no bridge"):
        export(dataclasses.replace(bundle, connector=polling_only.connector), tmp_path / "other")
