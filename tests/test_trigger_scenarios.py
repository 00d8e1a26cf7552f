"""The shared cursor scenario table, replayed against the Python trigger and a live sandbox."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from sandbox.server import SandboxServer
from tests.scenario_replay import ScenarioRun, load_scenarios
from tests.support import SandboxAdmin

DEFAULTS, SCENARIOS = load_scenarios()


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s["name"] for s in SCENARIOS])
def test_scenario(roomy_sandbox: SandboxServer, scenario: dict[str, Any], tmp_path: Path) -> None:
    admin = SandboxAdmin(roomy_sandbox)
    run = ScenarioRun(admin, admin.new_account(), DEFAULTS, tmp_path / "cursors.sqlite", scenario)
    for step in scenario["steps"]:
        run.run_step(step)
