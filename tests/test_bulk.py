"""``mxguard bulk apply``: a file of operations, validated first, sent at the token's pace,
resumable after a kill, with a complete result file.

The large runs (300 domains and 300 sender rules against a sandbox at 60/min and 600/h) go
through ``connector.bulk.apply`` with the client's clock and sleep moving a sandbox whose clock is
frozen but for those moves, so an hour of budget takes a few seconds and no test reads the wall
clock. The rest goes through the command line in-process, as people run it.
"""

from __future__ import annotations

import csv
import io
import json
import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from api_client import AuthenticationError, MxGuardClient
from connector.bulk.errors import JournalError, JournalMismatchError
from connector.bulk.journal import Header, Journal, read_journal
from connector.bulk.plan import pace
from connector.bulk.progress import LineProgress, RichProgress
from connector.bulk.rows import Row, read_bulk_file
from connector.bulk.run import apply
from sandbox.clock import SandboxClock
from sandbox.server import SandboxServer
from sandbox.settings import SandboxSettings
from tests.cli_support import Run
from tests.client_support import aligned_time, sandbox_client
from tests.support import Account, SandboxAdmin

ROOT = Path(__file__).resolve().parents[1]
FROZEN_AT = 1_800_000_000.0
"""Where the paced sandbox's clock stands until a test moves it (2027-01-15)."""
DOMAINS = "POST /api/v1/domains"
RULES = "POST /api/v1/domains/{domain}/sender-rules"
RULE_LOOKUP = "GET /api/v1/domains/{domain}/sender-rules"


@pytest.fixture(scope="module")
def paced() -> Iterator[SandboxServer]:
    """A sandbox at the documented 60/min and 600/h whose clock moves only when told."""
    server = SandboxServer(SandboxSettings(seed="empty", rate_per_minute=60, rate_per_hour=600))
    server.app.state.sandbox.clock = SandboxClock(lambda: FROZEN_AT)
    with server:
        yield server


@pytest.fixture(scope="module")
def paced_admin(paced: SandboxServer) -> Iterator[SandboxAdmin]:
    with SandboxAdmin(paced) as admin:
        yield admin


@dataclass
class Recorder:
    """A progress display that keeps what it was shown."""

    begun: list[tuple[int, int, float]] = field(default_factory=list)
    etas: list[float] = field(default_factory=list)
    waits: list[tuple[float | None, str]] = field(default_factory=list)
    ended: bool = False

    def begin(self, total: int, done: int, eta: float) -> None:
        self.begun.append((total, done, eta))

    def advance(self, row: Row, outcome: str, eta: float) -> None:
        self.etas.append(eta)

    def waiting(self, seconds: float | None, reason: str) -> None:
        self.waits.append((seconds, reason))

    def end(self) -> None:
        self.ended = True


def onboarding(path: Path, count: int = 300) -> Path:
    """``count`` domains, then a block rule on each: ``2 * count`` rows (lines 2 on)."""
    lines = ["op,domain,real_mx_host,pattern,action,note"]
    lines += [f"add_domain,d{i:03}.bulk.example,mail.d{i:03}.bulk.example,,," for i in range(count)]
    lines += [
        f"add_sender_rule,d{i:03}.bulk.example,,*@spam{i:03}.example,block,onboarding"
        for i in range(count)
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def read_results(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as results:
        return list(csv.DictReader(results))


def journal_records(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()[1:]]


def no_429(served: dict[str, Any]) -> bool:
    return "429" not in served["by_status"]


# -- the large runs, on the paced sandbox -------------------------------------------------


def test_600_rows_go_at_the_tokens_pace_with_no_429_and_a_complete_result_file(
    paced: SandboxServer, paced_admin: SandboxAdmin, tmp_path: Path
) -> None:
    account = paced_admin.new_account()
    source = onboarding(tmp_path / "onboard.csv")
    time = aligned_time(paced_admin)
    start = time.clock()
    shown = Recorder()
    with sandbox_client(
        paced, account, tmp_path / "budget.sqlite", clock=time.clock, sleep=time.sleep
    ) as client:
        report = apply(
            read_bulk_file(source),
            client,
            results=tmp_path / "out.csv",
            journal=tmp_path / "onboard.journal",
            clock=time.clock,
            sleep=time.sleep,
            progress=shown,
        )
    served = paced_admin.requests_served(account)
    assert served["by_status"] == {"201": 600}, "every row once, and never a 429"
    assert served["by_path"] == {DOMAINS: 300, RULES: 300}
    results = read_results(tmp_path / "out.csv")
    assert [int(r["line"]) for r in results] == list(range(2, 602)), "one row per row, in order"
    assert {r["outcome"] for r in results} == {"created"}
    assert all(r["id"] for r in results)
    assert results[0]["domain"] == "d000.bulk.example"
    assert results[300]["pattern"] == "*@spam000.example"
    assert report.outcomes == {"created": 600}

    elapsed = time.clock() - start
    least = pace(600, 60, 600, margin=0)  # the server's own windows: 9 full minutes
    paced_at = pace(600, 60, 600)  # the client's windows, 1 s wider each
    print(f"\n600 rows: {elapsed:.0f} s simulated; the budget allows {least:.0f} s at least")
    assert least == 540
    assert paced_at == 549
    assert least <= elapsed <= paced_at + 2
    assert report.seconds == pytest.approx(elapsed)
    assert report.least_seconds == least
    assert all(wait <= 61.01 for wait in time.slept), "the minute's window, never longer"

    total, done, first_eta = shown.begun[0]
    assert (total, done) == (600, 0)
    assert first_eta == pytest.approx(paced_at), "the ETA at the start is the budget's pace"
    assert shown.etas[299] == pytest.approx(paced_at - 4 * 61, abs=2), "five bursts to go"
    assert shown.etas[-1] == 0
    assert max(shown.etas) <= paced_at
    assert shown.ended
    assert any("minute's budget" in reason for _, reason in shown.waits)


CHILD = textwrap.dedent(
    """
    import os, signal, sys
    from datetime import datetime
    from pathlib import Path

    from api_client import MxGuardClient
    from connector.bulk.rows import read_bulk_file
    from connector.bulk.run import apply
    from sandbox.simulation import SimulationClient
    from tests.support import SandboxTime

    base, admin_token, token, source, journal, results, budget, kill_at, when = sys.argv[1:]
    admin = SimulationClient(base, admin_token)
    time = SandboxTime(admin, start=datetime.fromisoformat(admin.now()).timestamp())
    client = MxGuardClient(token, base, rate_limit_db=budget, clock=time.clock, sleep=time.sleep)
    send, calls = client.send, 0

    def send_or_die(*args):
        # "answered": the row is done in MxGuard, the process dies before the journal hears;
        # "unsent": it dies with the row journaled as started, before its request leaves
        global calls
        calls += 1
        if calls == int(kill_at) and when == "unsent":
            os.kill(os.getpid(), signal.SIGKILL)
        reply = send(*args)
        if calls == int(kill_at):
            os.kill(os.getpid(), signal.SIGKILL)
        return reply

    client.send = send_or_die
    apply(read_bulk_file(Path(source)), client, results=Path(results), journal=Path(journal),
          clock=time.clock, sleep=time.sleep)
    """
)


@pytest.mark.parametrize("when", ["answered", "unsent"])
def test_a_run_killed_half_way_resumes_without_repeating_a_successful_row(
    paced: SandboxServer, paced_admin: SandboxAdmin, tmp_path: Path, when: str
) -> None:
    """SIGKILL at the 330th row (line 331), after MxGuard answered it or before it was sent;
    then the same run again."""
    account = paced_admin.new_account()
    source = onboarding(tmp_path / "onboard.csv")
    journal, results, budget = tmp_path / "j.jsonl", tmp_path / "out.csv", tmp_path / "b.sqlite"
    start = aligned_time(paced_admin).clock()
    env = {k: v for k, v in os.environ.items() if not k.startswith("MXGUARD_")}
    args = [paced.base_url, paced.settings.admin_token, account.token]
    args += [str(p) for p in (source, journal, results, budget)]
    killed = subprocess.run(
        [sys.executable, "-c", CHILD, *args, "330", when],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert not results.exists(), "killed: it wrote no result file"
    state = read_journal(journal)
    assert state is not None
    assert len(state.done) == 329
    assert state.in_flight == {331}, "row 330 (line 331) was answered, never journaled"
    before = paced_admin.requests_served(account)
    assert before["by_path"] == {DOMAINS: 300, RULES: 30 if when == "answered" else 29}

    time = aligned_time(paced_admin)
    log = io.StringIO()
    with sandbox_client(paced, account, budget, clock=time.clock, sleep=time.sleep) as client:
        report = apply(
            read_bulk_file(source),
            client,
            results=results,
            journal=journal,
            clock=time.clock,
            sleep=time.sleep,
            progress=LineProgress(log),
        )
    served = paced_admin.requests_served(account)
    assert no_429(served)
    replay = when == "answered"
    if replay:
        assert served["by_path"] == {DOMAINS: 300, RULES: 301, RULE_LOOKUP: 1}, (
            "no successful row sent again; the one in flight replayed (its POST and the lookup "
            "of its repeat rule)"
        )
        assert served["by_status"] == {"201": 600, "409": 1, "200": 1}
    else:
        assert served["by_path"] == {DOMAINS: 300, RULES: 300}
        assert served["by_status"] == {"201": 600}
    done = [r["line"] for r in journal_records(journal) if r["event"] == "done"]
    assert sorted(done) == list(range(2, 602)), "each row's outcome journaled exactly once"

    rows = read_results(results)
    assert [int(r["line"]) for r in rows] == list(range(2, 602))
    outcomes = {int(r["line"]): r["outcome"] for r in rows}
    assert outcomes.pop(331) == ("existing" if replay else "created")
    assert set(outcomes.values()) == {"created"}
    assert "in flight" in rows[329]["message"]
    assert report.sent_rows == 271
    assert report.requests == (272 if replay else 271)

    elapsed = time.clock() - start
    requests = served["total"]
    least = pace(requests, 60, 600, margin=0)
    print(f"\nkilled ({when}) and resumed: {elapsed:.0f} s simulated for {requests} requests; the")
    print(f"budget allows {least:.0f} s at least")
    # 602 requests: the hour's window binds for the last two; 600: ten bursts of a minute
    assert least == (3600 if replay else 540)
    assert least <= elapsed <= pace(requests, 60, 600) + 2
    assert log.getvalue().startswith("bulk: 329/600 rows done, 271 to go, ETA ")
    assert ("the hour's budget (600/h) is spent" in log.getvalue()) == replay
    assert log.getvalue().endswith("bulk: 600/600 rows, ETA now\n")


def test_a_terminal_gets_a_rich_bar_with_the_eta_and_the_waits(
    paced: SandboxServer, paced_admin: SandboxAdmin, tmp_path: Path
) -> None:
    account = paced_admin.new_account()
    time = aligned_time(paced_admin)
    screen = io.StringIO()
    console = Console(file=screen, force_terminal=True, width=120, color_system=None)
    with sandbox_client(
        paced, account, tmp_path / "b.sqlite", clock=time.clock, sleep=time.sleep
    ) as client:
        apply(
            read_bulk_file(onboarding(tmp_path / "some.csv", count=35)),
            client,
            results=tmp_path / "out.csv",
            journal=tmp_path / "j",
            clock=time.clock,
            sleep=time.sleep,
            progress=RichProgress(console),
        )
    shown = screen.getvalue()
    assert "70/70" in shown
    assert "ETA now" in shown
    assert len(time.slept) == 2, "one minute's wait: the server's reset, then the client's margin"


def test_a_refused_token_stops_the_run_the_results_say_what_is_left_and_another_token_resumes(
    paced: SandboxServer, paced_admin: SandboxAdmin, tmp_path: Path
) -> None:
    account = paced_admin.new_account()
    source = onboarding(tmp_path / "few.csv", count=5)
    journal, results = tmp_path / "few.journal", tmp_path / "few.results.csv"
    time = aligned_time(paced_admin)

    def client_for(who: Account) -> MxGuardClient:
        return sandbox_client(paced, who, tmp_path / "b.sqlite", clock=time.clock, sleep=time.sleep)

    with client_for(account) as client:
        send, answered = client.send, []

        def revoke_after_three(*args: Any) -> Any:
            answered.append(1)
            if len(answered) == 4:
                paced_admin.revoke(account)
            return send(*args)

        client.send = revoke_after_three  # type: ignore[method-assign]
        with pytest.raises(AuthenticationError):
            apply(read_bulk_file(source), client, results=results, journal=journal)
    left = read_results(results)
    assert [r["outcome"] for r in left] == ["created"] * 3 + ["pending"] * 7
    assert "in flight" in left[3]["message"]

    other = paced_admin.new_account()
    with client_for(other) as client, pytest.raises(JournalMismatchError, match="another token"):
        apply(read_bulk_file(source), client, results=results, journal=journal)
    assert paced_admin.requests_served(other)["by_path"] == {"GET /api/v1/domains/{domain}": 3}, (
        "three lookups of domains the journal recorded: none is this account's"
    )

    rotated = paced_admin.issue_token(account.customer_id)
    with client_for(rotated) as client:
        report = apply(read_bulk_file(source), client, results=results, journal=journal)
    assert report.outcomes == {"created": 10}
    assert paced_admin.requests_served(rotated)["by_path"] == {
        "GET /api/v1/domains/{domain}": 1,
        DOMAINS: 2,
        RULES: 5,
    }, "the account checked once; the three rows done not sent again"


# -- the command line ---------------------------------------------------------------------


def test_every_bad_row_is_named_by_line_and_field_and_nothing_is_sent(
    mxguard: Run, sandbox: SandboxServer, admin: SandboxAdmin, tmp_path: Path
) -> None:
    account = admin.new_account()
    source = tmp_path / "bad.csv"
    source.write_text(
        "op,domain,real_mx_host,pattern,action,rule_id\n"
        "add_domain,good.example,mail.good.example,,,\n"  # line 2: fine
        "add_domain,-bad-.example,mail.example.com,,,\n"  # line 3
        "\n"
        'add_sender_rule,good.example,,"a b@c",maybe,\n'  # line 5: two fields
        "frobnicate,good.example,,,,\n"  # line 6
        "update_domain,good.example,,,,\n"  # line 7: the MX host is missing
        "remove_domain,good.example,mail.example.com,,,\n"  # line 8: not its input
        "release_message,,,,,qmsg_1\n",  # line 9: not a bulk operation
        encoding="utf-8",
    )
    result = mxguard("bulk", "apply", str(source), account=account, base_url=sandbox.base_url)
    assert result.returncode == 3, result.stderr
    assert "6 of 7 rows cannot be sent, so nothing was sent" in result.stderr
    for expected in (
        "line 3, domain: '-bad-.example'",
        "line 5, pattern: 'a b@c' is not a sender pattern",
        "line 5, action: Input should be 'allow' or 'block'",
        "line 6, op: 'frobnicate' is not an operation",
        "line 7, real_mx_host: required by update_domain",
        "line 8, real_mx_host: not an input of remove_domain",
        "line 9, op: 'release_message' cannot be run in bulk",
    ):
        assert expected in result.stderr
    assert "line 2" not in result.stderr
    assert admin.requests_served(account)["total"] == 0
    assert not (tmp_path / "bad.csv.journal").exists()
    assert not (tmp_path / "bad.results.csv").exists()

    skipped = mxguard(
        "bulk", "apply", str(source), "--skip-invalid", account=account, base_url=sandbox.base_url
    )
    assert skipped.returncode == 0, skipped.stderr
    assert "1 created, 6 invalid" in skipped.stdout
    results = read_results(tmp_path / "bad.results.csv")
    assert [(r["line"], r["outcome"]) for r in results] == [
        ("2", "created"),
        *((str(line), "invalid") for line in (3, 5, 6, 7, 8, 9)),
    ]
    assert results[1]["message"].startswith("domain: '-bad-.example'")
    assert admin.requests_served(account)["by_path"] == {DOMAINS: 1}


def test_the_dry_run_states_rows_requests_and_time_at_the_limits_and_sends_nothing(
    mxguard: Run, sandbox: SandboxServer, admin: SandboxAdmin, tmp_path: Path
) -> None:
    account = admin.new_account()
    source = onboarding(tmp_path / "onboard.csv")
    result = mxguard(
        "bulk", "apply", str(source), "--dry-run", account=account, base_url=sandbox.base_url
    )
    assert result.returncode == 0, result.stderr
    out = " ".join(result.stdout.split())
    assert "600 rows: 600 to send, 0 done already (journal), 0 invalid" in out
    assert "add_domain 300 rows 300-600 requests (1 a row, 2 on a repeat)" in out
    assert "add_sender_rule 300 rows 300-600 requests (1 a row, 2 on a repeat)" in out
    assert "requests: 600 to 1200" in out
    # 600 requests: ten bursts of 60, 61 s apart; 1200: the hour's window binds at 600
    assert pace(1200, 60, 600) == 3601 + 549
    assert "(60/min and 600/h): 9 min 9 s to 1 h 9 min 10 s from a full budget" in out
    assert "the least its windows allow: 9 min 0 s" in out
    assert "dry run: nothing was sent" in out
    assert admin.requests_served(account)["total"] == 0
    assert not (tmp_path / "onboard.csv.journal").exists()

    faster = mxguard("--rate-limits", "120/min,6000/h", "bulk", "apply", str(source), "--dry-run")
    assert "(120/min and 6000/h): 4 min 4 s to 9 min 9 s" in faster.stdout
    from_env = mxguard(
        "bulk", "apply", str(source), "--dry-run", MXGUARD_RATE_LIMITS="30/min,1000/h"
    )
    assert "(30/min and 1000/h): 19 min 19 s" in from_env.stdout

    few = onboarding(tmp_path / "few.csv", count=3)
    done = mxguard("-q", "bulk", "apply", str(few), account=account, base_url=sandbox.base_url)
    assert done.returncode == 0, done.stderr
    assert done.stderr == "", "-q: no progress"
    again = mxguard("bulk", "apply", str(few), "--dry-run")
    assert "6 rows: 0 to send, 6 done already (journal)" in again.stdout
    assert "time: none, nothing to send" in again.stdout


def test_json_lines_outcomes_exit_codes_and_a_second_run_sends_nothing(
    mxguard: Run, sandbox: SandboxServer, admin: SandboxAdmin, tmp_path: Path
) -> None:
    account = admin.new_account(domains=("taken.example",))
    rows: list[dict[str, Any]] = [
        {"op": "add-domain", "domain": "Bücher.example", "real_mx_host": "mx.example.com"},
        {"op": "add_domain", "domain": "taken.example", "real_mx_host": "mail.taken.example"},
        {"op": "add_domain", "domain": "taken.example", "real_mx_host": "other.example.com"},
        {"op": "update_domain", "domain": "taken.example", "real_mx_host": "mx2.example.com"},
        {"op": "add_sender_rule", "domain": "taken.example", "pattern": "x@spam.example",
         "action": "block", "note": None},
        {"op": "remove_domain", "domain": "never-there.example"},
        {"op": "update_domain", "domain": "never-there.example", "real_mx_host": "mx.example.com"},
        {"op": "remove_sender_rule", "domain": "taken.example", "rule_id": "rul_gone"},
    ]  # fmt: skip
    source = tmp_path / "ops.jsonl"
    source.write_text("\n".join(json.dumps(r) for r in rows) + "\n\n", encoding="utf-8")
    out = tmp_path / "out.csv"
    args = ("bulk", "apply", str(source), "--results", str(out))
    first = mxguard(*args, account=account, base_url=sandbox.base_url)
    assert first.returncode == 1, "a row ended in error"
    assert "1 error and 1 conflict of 8 rows" in first.stderr
    assert "bulk: 8/8 rows" in first.stderr, "progress lines when stderr is not a terminal"
    results = read_results(out)
    assert [(r["line"], r["op"], r["outcome"]) for r in results] == [
        ("1", "add_domain", "created"),
        ("2", "add_domain", "existing"),
        ("3", "add_domain", "conflict"),
        ("4", "update_domain", "updated"),
        ("5", "add_sender_rule", "created"),
        ("6", "remove_domain", "absent"),
        ("7", "update_domain", "error"),
        ("8", "remove_sender_rule", "absent"),
    ]
    assert results[0]["domain"] == "xn--bcher-kva.example", "as sent: punycode"
    assert "use Update Domain" in results[2]["message"]
    assert results[6]["message"].startswith("not found")
    spent = admin.requests_served(account)["total"]

    second = mxguard(*args, account=account, base_url=sandbox.base_url)
    assert second.returncode == 1
    assert admin.requests_served(account)["total"] == spent + 1, "only the error row again"
    again = read_results(out)
    assert [(r["line"], r["outcome"]) for r in again] == [
        (r["line"], r["outcome"]) for r in results
    ]


def test_another_files_journal_is_refused_before_anything_is_sent(
    mxguard: Run, sandbox: SandboxServer, admin: SandboxAdmin, tmp_path: Path
) -> None:
    account = admin.new_account()
    first = onboarding(tmp_path / "first.csv", count=2)
    second = onboarding(tmp_path / "second.csv", count=3)
    journal = str(tmp_path / "shared.journal")
    env = {"account": account, "base_url": sandbox.base_url}
    assert mxguard("bulk", "apply", str(first), "--journal", journal, **env).returncode == 0
    spent = admin.requests_served(account)["total"]
    for extra in ((), ("--dry-run",)):
        refused = mxguard("bulk", "apply", str(second), "--journal", journal, *extra, **env)
        assert refused.returncode == 2
        assert "is the journal of another input file (first.csv, 4 rows" in refused.stderr
        assert "not of second.csv" in refused.stderr
    assert admin.requests_served(account)["total"] == spent
    assert not (tmp_path / "second.results.csv").exists()

    recorded = read_journal(Path(journal))
    assert recorded is not None
    with Journal.open(Path(journal), recorded.header) as held:
        assert held.path == Path(journal)
        busy = mxguard("bulk", "apply", str(first), "--journal", journal, **env)
    assert busy.returncode == 6
    assert "another process is applying" in busy.stderr


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("missing.csv", None, "no such file"),
        ("empty.csv", b"", "is empty"),
        ("header.csv", b"op,domain\n", "holds no operations"),
        ("noop.csv", b"domain,real_mx_host\na.example,mx.example\n", "no 'op' column"),
        ("extra.csv", b"op,domain,colour\nremove_domain,a.example,red\n", "'colour' is not"),
        ("twice.csv", b"op,domain,Domain\n", "'domain' appears twice"),
        ("latin1.csv", "op,domain\nremove_domain,bücher.example\n".encode("latin-1"), "not UTF-8"),
        ("quotes.csv", b'op,domain\nremove_domain,"a.example\n', "not readable as CSV"),
        ("binary.jsonl", b'{"op": "x"}\x00\n', "not a text file"),
    ],
)  # fmt: skip
def test_a_file_that_cannot_be_read_is_a_typed_error_before_anything(
    mxguard: Run, tmp_path: Path, name: str, content: bytes | None, message: str
) -> None:
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    result = mxguard("bulk", "apply", str(path), base_url="http://127.0.0.1:9")
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert not list(tmp_path.glob("*.journal"))


def test_semicolons_a_bom_and_quoted_lines_count_lines_as_a_spreadsheet_shows_them(
    tmp_path: Path,
) -> None:
    path = tmp_path / "excel.csv"
    path.write_bytes(
        "\ufeffOp;Domain;Real-MX-Host;Note\n"
        'add_domain;a.example;mx.example.com;"two\nlines"\n'
        "add_domain;b..example;mx.example.com;\n".encode()
    )
    read = read_bulk_file(path)
    assert read.format == "csv"
    assert [row.line for row in read.rows] == [2, 4]
    assert [(p.line, p.field) for p in read.problems] == [(2, "note"), (4, "domain")]
    assert "not an input of add_domain" in read.problems[0].message


def test_a_line_cut_short_by_a_kill_is_dropped_and_the_journal_goes_on(tmp_path: Path) -> None:
    path = tmp_path / "j.journal"
    header = Header("in.csv", "abc", 3, "http://x", "f" * 16)
    with Journal.open(path, header) as journal:
        journal.start(2)
    with path.open("ab") as torn:
        torn.write(b'{"event":"done","line":2,"op":"add_do')
    with Journal.open(path, header) as journal:
        assert journal.state.in_flight == {2}
        assert journal.state.entries == {}
        journal.start(3)
    lines = path.read_text().splitlines()
    assert [json.loads(line).get("event") for line in lines[1:]] == ["start", "start"]
    other = Header("in.csv", "abd", 3, "http://x", "f" * 16)
    with pytest.raises(JournalMismatchError, match="another input file"):
        Journal.open(path, other)
    foreign = tmp_path / "notes.txt"
    foreign.write_text("my notes\n")
    with pytest.raises(JournalError, match="is not a bulk journal"):
        Journal.open(foreign, header)
    assert foreign.read_text() == "my notes\n", "never overwritten"
