"""The contract document: valid OpenAPI, the same as what the sandbox serves and generates, and
the sandbox conforms to it (schemathesis, over real HTTP)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import requests
from openapi_spec_validator import validate

from connector import contract
from sandbox.assumptions import ASSUMPTIONS, OPERATION_ASSUMPTIONS
from sandbox.server import SandboxServer
from tests.support import SandboxAdmin

SPEC = Path(__file__).resolve().parents[1] / "manifests" / "openapi.json"


def test_the_contract_is_valid_openapi_3_1() -> None:
    document = json.loads(SPEC.read_text())
    assert document["openapi"].startswith("3.1")
    validate(document)


def test_the_file_is_what_the_code_generates() -> None:
    assert contract.drift(SPEC) is None


def test_drift_is_detected(tmp_path: Path) -> None:
    changed = json.loads(SPEC.read_text())
    changed["paths"]["/api/v1/me"]["get"]["summary"] = "edited by hand"
    target = tmp_path / "openapi.json"
    target.write_text(json.dumps(changed))
    problem = contract.drift(target)
    assert problem is not None
    assert "mxguard contract write" in problem


def test_the_sandbox_serves_the_same_document(sandbox: SandboxServer) -> None:
    served = requests.get(f"{sandbox.base_url}/api/v1/openapi.json", timeout=10).json()
    assert served == json.loads(SPEC.read_text())
    docs = requests.get(f"{sandbox.base_url}/api/v1/docs", timeout=10)
    assert docs.status_code == 200
    assert "swagger" in docs.text.lower()


def test_every_operation_of_the_help_page_is_there() -> None:
    operations = {
        f"{method.upper()} {path}"
        for path, item in json.loads(SPEC.read_text())["paths"].items()
        for method in item
    }
    assert operations == {
        "GET /api/v1/me",
        "GET /api/v1/domains",
        "POST /api/v1/domains",
        "GET /api/v1/domains/{domain}",
        "PATCH /api/v1/domains/{domain}",
        "DELETE /api/v1/domains/{domain}",
        "GET /api/v1/domains/{domain}/sender-rules",
        "POST /api/v1/domains/{domain}/sender-rules",
        "DELETE /api/v1/domains/{domain}/sender-rules/{rule_id}",
        "GET /api/v1/verdicts",
        "GET /api/v1/verdicts/{verdict_id}",
        "GET /api/v1/quarantine",
        "GET /api/v1/quarantine/{message_id}",
        "POST /api/v1/quarantine/{message_id}/release",
        "POST /api/v1/quarantine/{message_id}/report-spam",
        "GET /api/v1/stats",
    }


def test_assumptions_are_marked_in_the_document() -> None:
    document = json.loads(SPEC.read_text())
    assert document["x-assumptions"] == ASSUMPTIONS
    for key in ASSUMPTIONS:
        assert f"**{key}**" in document["info"]["description"]
    marked = {
        op["operationId"]
        for item in document["paths"].values()
        for op in item.values()
        if op.get("x-assumption")
    }
    assert marked == set(OPERATION_ASSUMPTIONS)
    limited = document["paths"]["/api/v1/verdicts"]["get"]["responses"]["429"]["headers"]
    assert {"Retry-After", "X-RateLimit-Remaining", "X-RateLimit-Reset"} <= set(limited)
    assert document["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"


def test_diff_lists_what_a_published_spec_changes() -> None:
    ours = json.loads(SPEC.read_text())
    theirs = json.loads(SPEC.read_text())
    del theirs["paths"]["/api/v1/stats"]
    theirs["paths"]["/api/v1/verdicts"]["get"]["parameters"].append(
        {"name": "recipient", "in": "query", "schema": {"type": "string"}}
    )
    theirs["components"]["schemas"]["Verdict"]["properties"]["spf"] = {"type": "string"}
    assert contract.diff(ours, theirs) == [
        "- operation GET /api/v1/stats",
        "+ parameter GET /api/v1/verdicts recipient",
        "+ field Verdict.spf",
    ]
    assert contract.diff(ours, ours) == []


@pytest.mark.slow
def test_schemathesis_finds_no_failure(roomy_sandbox: SandboxServer) -> None:
    """Every check schemathesis has, on every operation, a bounded number of examples."""
    account = SandboxAdmin(roomy_sandbox).new_account(domains=("example.com",))
    command = [
        str(Path(sys.executable).with_name("schemathesis")),
        "run",
        f"{roomy_sandbox.base_url}/api/v1/openapi.json",
        "--url",
        roomy_sandbox.base_url,
        "-H",
        f"Authorization: Bearer {account.token}",
        "--checks",
        "all",
        "--max-examples",
        "25",
        "--workers",
        "1",
        "--seed",
        "20261123",
        "--no-color",
    ]
    result = subprocess.run(
        command, capture_output=True, text=True, timeout=300, check=False, env=_without_faketime()
    )
    summary = result.stdout[-3000:]
    assert result.returncode == 0, summary
    counts = re.search(r"(\d+) generated, (\d+) passed", summary)
    assert counts is not None, summary
    assert counts[1] == counts[2], summary
    assert int(counts[1]) > 500, summary


def _without_faketime() -> dict[str, str]:
    """The environment for the schemathesis client, without libfaketime.

    Under ``faketime`` (the date-independence check in the README) libfaketime also shifts the
    monotonic clock, and a timed wait between schemathesis's worker threads then waits for the
    shifted deadline: the run never ends. The client reads no date; the sandbox it tests stays in
    this process, on the shifted clock.
    """
    env = dict(os.environ)
    kept = [lib for lib in env.pop("LD_PRELOAD", "").split(":") if lib and "faketime" not in lib]
    if kept:
        env["LD_PRELOAD"] = ":".join(kept)
    env.pop("FAKETIME", None)
    return env
