"""The ``mxguard`` command line as people and scripts run it, against a live sandbox.

In-process (``invoke``, the console script's own function, output captured), except where a real
process matters: a poll killed mid-way.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from sandbox.server import SandboxServer
from tests.cli_support import Run
from tests.support import Account, SandboxAdmin, account_with_mail

MXGUARD = [sys.executable, "-m", "connector"]


def _env(account: Account | None, base_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MXGUARD_")}
    if account:
        env["MXGUARD_API_TOKEN"] = account.token
    if base_url:
        env["MXGUARD_API_URL"] = base_url
    return env


def lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_list_names_every_operation_triggers_first(mxguard: Run) -> None:
    result = mxguard("list")
    assert result.returncode == 0
    names = [line.split()[1] for line in result.stdout.splitlines()]
    assert set(names[:3]) == {"new-verdict", "new-quarantined-message", "new-domain"}
    assert {"add-domain", "release-message", "find-quarantined-message"} <= set(names[3:])


def test_me_and_exit_codes(mxguard: Run, sandbox: SandboxServer, account: Account) -> None:
    ok = mxguard("me", account=account, base_url=sandbox.base_url)
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)["id"] == account.customer_id
    missing = mxguard("me", base_url=sandbox.base_url)
    assert missing.returncode == 4
    assert "MXGUARD_API_TOKEN" in missing.stderr
    revoked = Account("", "", "mxg_test_" + "B" * 43)
    denied = mxguard("me", account=revoked, base_url=sandbox.base_url)
    assert denied.returncode == 4
    assert "Traceback" not in denied.stderr
    assert revoked.token not in denied.stderr + denied.stdout
    down = mxguard("me", account=account, base_url="http://127.0.0.1:9")
    assert down.returncode == 8
    assert account.token not in down.stderr + down.stdout
    assert mxguard("poll", "no-such-trigger").returncode == 2


def test_run_with_flags_json_and_both_spellings(
    mxguard: Run, sandbox: SandboxServer, account: Account
) -> None:
    base = sandbox.base_url
    added = mxguard(
        "run",
        "add-domain",
        "--domain",
        "Bücher.example",
        "--real-mx-host",
        "mail.example.com",
        account=account,
        base_url=base,
    )
    assert added.returncode == 0, added.stderr
    assert json.loads(added.stdout)["domain"] == "xn--bcher-kva.example"
    again = mxguard(
        "run",
        "add_domain",
        "--input",
        '{"domain": "bücher.example", "real_mx_host": "mail.example.com"}',
        account=account,
        base_url=base,
    )
    assert json.loads(again.stdout)["outcome"] == "existing"
    conflict = mxguard(
        "run",
        "add-domain",
        "--input",
        '{"domain": "bücher.example", "real_mx_host": "other.example.com"}',
        account=account,
        base_url=base,
    )
    assert conflict.returncode == 6
    assert "update-domain" in conflict.stderr
    bad = mxguard(
        "run",
        "add-sender-rule",
        "--domain",
        "example.com",
        "--pattern",
        "a b@c",
        "--action",
        "block",
        account=account,
        base_url=base,
    )
    assert bad.returncode == 3
    assert "pattern" in bad.stderr
    assert mxguard("run", "add-domain", "--input", "{oops", account=account).returncode == 3
    found = mxguard("run", "find-domain", "--domain", "EXAMPLE.com", account=account, base_url=base)
    assert [d["domain"] for d in json.loads(found.stdout)] == ["example.com"]
    gone = mxguard(
        "run", "release-message", "--message-id", "qmsg_x", account=account, base_url=base
    )
    assert gone.returncode == 5


def test_stats_sender_rules_and_a_verdict_from_the_command_line(
    mxguard: Run, sandbox: SandboxServer, admin: SandboxAdmin
) -> None:
    account, ids = account_with_mail(admin)
    base = sandbox.base_url
    stats = mxguard(
        "run", "get-account-stats", "--domain", "EXAMPLE.com", account=account, base_url=base
    )
    assert stats.returncode == 0, stats.stderr
    [counted] = json.loads(stats.stdout)
    assert (counted["domain"], counted["messages_scanned"], counted["quarantined"]) == (
        "example.com",
        2,
        2,
    )
    window = ["--since", "2000-01-01T00:00:00Z", "--until", "2000-01-02T00:00:00+00:00"]
    old = mxguard("run", "get-account-stats", *window, account=account, base_url=base)
    assert json.loads(old.stdout)[0]["messages_scanned"] == 0
    naive = mxguard("run", "get-account-stats", "--since", "2000-01-01T00:00:00", account=account)
    assert naive.returncode == 3, "a time without its zone is refused before any request"
    assert "since" in naive.stderr
    rule = ["--domain", "example.com", "--pattern", "*@spam.example", "--action", "block"]
    assert mxguard("run", "add-sender-rule", *rule, account=account, base_url=base).returncode == 0
    found = mxguard(
        "run", "find-sender-rules", "--domain", "example.com", "--action", "block",
        account=account, base_url=base,
    )  # fmt: skip
    assert [r["pattern"] for r in json.loads(found.stdout)] == ["*@spam.example"]
    verdict = mxguard(
        "run", "find-verdict", "--verdict-id", ids["held_verdict"], account=account, base_url=base
    )
    assert [v["id"] for v in json.loads(verdict.stdout)] == [ids["held_verdict"]]
    nothing = mxguard(
        "run", "find-verdict", "--verdict-id", "vrd_missing", account=account, base_url=base
    )
    assert (nothing.returncode, json.loads(nothing.stdout)) == (0, [])
    by_message = mxguard(
        "run", "find-verdicts", "--message-id", ids["held_message_id"], account=account,
        base_url=base,
    )  # fmt: skip
    assert [v["id"] for v in json.loads(by_message.stdout)] == [ids["held_verdict"]]


def test_poll_prints_json_lines_and_keeps_its_cursor(
    mxguard: Run, sandbox: SandboxServer, admin: SandboxAdmin, account: Account, tmp_path: Path
) -> None:
    state = str(tmp_path / "cursors.sqlite")
    args = ("poll", "new-verdict", "--state", state)
    first = mxguard(*args, account=account, base_url=sandbox.base_url)
    assert first.returncode == 0, first.stderr
    assert first.stdout == "", "the first poll starts from now"
    assert "cursor created" in first.stderr
    admin.traffic(account, 120, seed=3)
    second = mxguard(*args, account=account, base_url=sandbox.base_url)
    assert len({item["id"] for item in lines(second.stdout)}) == 120
    assert mxguard(*args, account=account, base_url=sandbox.base_url).stdout == ""
    spam_only = mxguard(
        *args,
        "--verdict",
        "spam",
        "--since",
        "2000-01-01T00:00:00Z",
        account=account,
        base_url=sandbox.base_url,
    )
    spam = lines(spam_only.stdout)
    assert spam
    assert {item["verdict"] for item in spam} == {"spam"}, "another filter, another cursor"
    sample = mxguard(*args, "--sample", "--limit", "2", account=account, base_url=sandbox.base_url)
    assert len(lines(sample.stdout)) == 2
    assert mxguard(*args, account=account, base_url=sandbox.base_url).stdout == ""


@pytest.mark.slow
def test_a_killed_poll_loses_nothing_and_repeats_at_most_the_page_in_flight(
    mxguard: Run, roomy_sandbox: SandboxServer, tmp_path: Path
) -> None:
    admin = SandboxAdmin(roomy_sandbox)
    account = admin.new_account(domains=("example.com",))
    admin.traffic(account, 3000, spread_seconds=600, seed=5)
    admin.fault(
        kind="delay",
        delay_seconds=0.15,
        count=100,
        path_prefix="/api/v1/verdicts",
        token_id=account.token_id,
    )
    args = [
        "poll",
        "new-verdict",
        "--state",
        str(tmp_path / "c.sqlite"),
        "--page-size",
        "100",
        "--since",
        "2000-01-01T00:00:00Z",
    ]
    process = subprocess.Popen(
        [*MXGUARD, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=_env(account, roomy_sandbox.base_url),
    )
    assert process.stdout is not None
    before_kill: list[str] = []
    for line in process.stdout:
        before_kill.append(line)
        if len(before_kill) >= 1250:
            break
    process.send_signal(signal.SIGKILL)
    rest = process.stdout.read()
    process.wait(timeout=10)
    delivered = [
        json.loads(x)["id"]
        for x in [*before_kill, *rest.splitlines(keepends=True)]
        if x.endswith("\n")
    ]
    after = mxguard(*args, account=account, base_url=roomy_sandbox.base_url)
    assert after.returncode == 0, after.stderr
    resumed = [item["id"] for item in lines(after.stdout)]
    everything = delivered + resumed
    assert len(set(everything)) == 3000, "nothing lost"
    repeated = len(everything) - 3000
    assert 0 <= repeated <= 100, f"{repeated} repeated: at most the page in flight"
    assert len(delivered) >= 1250


@pytest.mark.parametrize(("extra", "reachable"), [((), True), (("--sample",), True), ((), False)])
def test_a_poll_closes_its_cursor_file_however_it_ends(
    mxguard: Run,
    sandbox: SandboxServer,
    account: Account,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    extra: tuple[str, ...],
    reachable: bool,
) -> None:
    from connector.cursor_store import SQLiteCursorStore

    opened: list[SQLiteCursorStore] = []
    closed: list[SQLiteCursorStore] = []
    real_init, real_close = SQLiteCursorStore.__init__, SQLiteCursorStore.close

    def init(self: SQLiteCursorStore, *args: Any, **kwargs: Any) -> None:
        real_init(self, *args, **kwargs)
        opened.append(self)

    def close(self: SQLiteCursorStore) -> None:
        closed.append(self)
        real_close(self)

    monkeypatch.setattr(SQLiteCursorStore, "__init__", init)
    monkeypatch.setattr(SQLiteCursorStore, "close", close)
    args = ("poll", "new-verdict", "--state", str(tmp_path / "c.sqlite"), *extra)
    base_url = sandbox.base_url if reachable else "http://127.0.0.1:9"
    result = mxguard(*args, account=account, base_url=base_url)
    assert result.returncode == (0 if reachable else 8), result.stderr
    assert len(opened) == 1
    assert opened == closed
