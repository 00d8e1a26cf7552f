"""The scaffolded action ``{{ cookiecutter.name }}``, against the sandbox, in Python and from its
manifest."""

from __future__ import annotations

from pathlib import Path

from api_client import MxGuardClient
from connector import registry
from connector.manifest import files
from sandbox.server import SandboxServer
from connector.manifest.runner import ManifestRunner
from tests.support import Account, SandboxAdmin

MANIFESTS = Path(__file__).resolve().parents[1] / "manifests"


def test_{{ cookiecutter.name }}_runs_against_the_sandbox(
    sandbox: SandboxServer, admin: SandboxAdmin, account: Account
) -> None:
    admin.traffic(account, 40, seed=1)
    action = registry.action("{{ cookiecutter.name }}")
    assert action is not None
    with MxGuardClient(account.token, sandbox.base_url, rate_limit_db=":memory:") as client:
        result = action.execute(client, {"domain": "Example.com"})
    assert [item.messages_scanned for item in result] == [40]
    operation = next(
        op for op in files.load_operations(MANIFESTS) if op.key == "{{ cookiecutter.name }}"
    )
    runner = ManifestRunner(files.load_connector(MANIFESTS), sandbox.base_url, account.token)
    from_manifest = runner.run(operation, {"domain": "example.com"})
    assert [item["messages_scanned"] for item in from_manifest] == [40]
