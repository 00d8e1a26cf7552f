"""``mxguard bridge tokens add|list|remove``: an operator's tokens on the bridge's own storage
(SQLite in --data, or PostgreSQL with --db when the suite runs on it), checked against the
sandbox first, listed by fingerprint only, removed with their subscriptions on --yes."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner, Result

from api_client import Secret
from api_client.contract import MICROS
from bridge.models import Subscription
from bridge.secrets_box import SecretBox
from connector.cli import main
from connector.cli.base import Settings
from connector.exits import Exit
from sandbox.server import SandboxServer
from tests.bridge_support import ON_POSTGRES, database_at, storage_at
from tests.support import SandboxAdmin

UNKNOWN_TOKEN = "mxg_test_" + "Z" * 43


def run(sandbox: SandboxServer, data: Path, token: str, *args: str) -> Result:
    where = ["--data", str(data)]  # the key's folder, and the SQLite file's
    if ON_POSTGRES:
        where += ["--db", database_at(data / "bridge.sqlite")]
    env = {"MXGUARD_API_TOKEN": token, "MXGUARD_API_URL": sandbox.base_url}
    return CliRunner().invoke(
        main, ["bridge", "tokens", *where, *args], env=env, obj=Settings(), catch_exceptions=False
    )


def test_add_list_and_remove(sandbox: SandboxServer, admin: SandboxAdmin, tmp_path: Path) -> None:
    first = admin.new_account()
    second = admin.new_account()
    added = run(sandbox, tmp_path, first.token, "add", "--label", "Customer One")
    assert added.exit_code == 0, added.output
    shown = json.loads(added.output)
    assert shown == {
        "fingerprint": Secret(first.token).fingerprint,
        "customer_id": first.customer_id,
        "label": "Customer One",
    }
    assert run(sandbox, tmp_path, second.token, "add").exit_code == 0
    # a subscription arriving with the first token keeps the operator's label
    with storage_at(tmp_path / "bridge.sqlite", SecretBox.from_environment(tmp_path)) as storage:
        fingerprint = Secret(first.token).fingerprint
        storage.put_token(first.customer_id, fingerprint, first.token)
        storage.add_subscription(
            Subscription(
                id="sub_" + "1" * 24,
                customer_id=first.customer_id,
                token_fingerprint=fingerprint,
                event="new_verdict",
                filters={},
                target_url="https://hooks.example.com/a",
                secret="whsec_" + "A" * 43 + "=",
                created_at=1_700_000_000 * MICROS,
            )
        )
        assert storage.token(fingerprint) == first.token

    listed = run(sandbox, tmp_path, first.token, "list")
    assert listed.exit_code == 0, listed.output
    rows = {row["fingerprint"]: row for row in json.loads(listed.output)}
    assert rows[fingerprint] == {
        "fingerprint": fingerprint,
        "customer_id": first.customer_id,
        "label": "Customer One",
        "added_by": "operator",
        "subscriptions": 1,
    }
    assert rows[Secret(second.token).fingerprint]["subscriptions"] == 0
    assert first.token not in listed.output
    assert second.token not in listed.output

    kept = run(sandbox, tmp_path, first.token, "remove", fingerprint)
    assert kept.exit_code == Exit.INVALID_INPUT
    assert "--yes" in kept.output
    removed = run(sandbox, tmp_path, first.token, "remove", fingerprint, "--yes")
    assert json.loads(removed.output) == {"fingerprint": fingerprint, "removed_subscriptions": 1}
    again = run(sandbox, tmp_path, first.token, "remove", fingerprint)
    assert again.exit_code == Exit.INVALID_INPUT
    assert [r["fingerprint"] for r in json.loads(run(sandbox, tmp_path, "", "list").output)] == [
        Secret(second.token).fingerprint
    ]


def test_a_token_mxguard_refuses_is_not_kept(sandbox: SandboxServer, tmp_path: Path) -> None:
    refused = run(sandbox, tmp_path, UNKNOWN_TOKEN, "add")
    assert refused.exit_code == Exit.AUTHENTICATION
    assert UNKNOWN_TOKEN not in refused.output
    assert json.loads(run(sandbox, tmp_path, UNKNOWN_TOKEN, "list").output) == []
