"""The real-n8n tests take minutes and a 3 GB install: they run in their own tox env
(``tox -e n8n``, which sets ``MXGUARD_N8N_REAL=1``) or when this folder is named on the command
line, never as part of the default ``pytest`` run.

The sandbox process and the n8n instance (with the exported package installed) are shared by the
whole session: each test starts and stops ``n8n start`` itself, on workflows and credentials of
its own.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from sandbox.launcher import SandboxProcess
from sandbox.server import free_port
from tests.heavy_env import ignore_unless_asked
from tests.n8n_real.n8n_process import (
    ADMIN,
    CREDENTIAL,
    N8N,
    NODE24,
    TOKEN,
    N8n,
    Sandbox,
    timed,
)
from tests.test_export_n8n import build_package

HERE = Path(__file__).resolve().parent


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    return ignore_unless_asked(HERE, "MXGUARD_N8N_REAL", collection_path, config)


@pytest.fixture(scope="session")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    process = SandboxProcess(
        seed="empty",
        token=TOKEN,
        admin_token=ADMIN,
        rate_per_minute=100_000,
        rate_per_hour=1_000_000,
        log=tmp_path_factory.mktemp("sandbox") / "sandbox.log",
    )
    with process as simulation:
        running = Sandbox(simulation)
        added = running.simulation.public(
            TOKEN, "POST", "/domains", {"domain": "example.com", "real_mx_host": "mail.example.com"}
        )
        assert added.status_code == 201, added.text
        yield running


@pytest.fixture(scope="session")
def n8n(tmp_path_factory: pytest.TempPathFactory, sandbox: Sandbox) -> Iterator[N8n]:
    if not (N8N.exists() and (NODE24 / "node").exists()):
        pytest.fail("n8n is not installed: run tools/n8n-run/install.sh", pytrace=False)
    work = tmp_path_factory.mktemp("n8n")
    began = time.monotonic()
    package = build_package(work / "n8n-nodes-mxguard")
    subprocess.run(
        ["npm", "pack", "--pack-destination", str(work)], cwd=package, check=True,
        capture_output=True, timeout=120,
    )  # fmt: skip
    home = work / "home"
    nodes = home / ".n8n" / "nodes"
    nodes.mkdir(parents=True)
    (nodes / "package.json").write_text('{"name": "installed-nodes", "private": true}\n')
    subprocess.run(
        ["npm", "install", "--ignore-scripts", "--legacy-peer-deps", "--no-audit", "--no-fund",
         str(next(work.glob("n8n-nodes-mxguard-*.tgz")))],
        cwd=nodes, check=True, capture_output=True, timeout=300,
    )  # fmt: skip
    timed("export, build, pack, install into ~/.n8n/nodes", began)
    instance = N8n(home, free_port(), free_port())
    credentials = [
        {**CREDENTIAL, "type": "mxGuardApi",
         "data": {"baseUrl": sandbox.base_url, "apiToken": TOKEN}}
    ]  # fmt: skip
    began = time.monotonic()
    instance.import_json("credentials", credentials, work)
    timed("n8n import:credentials (first run migrates the database)", began)
    yield instance
    instance.stop()
