"""Every documented exit code, and one clear message, for what people and scripts get wrong."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import IO

import pytest

from connector.cli import invoke
from sandbox.server import SandboxServer
from tests.support import Account, SandboxAdmin

MXGUARD = [sys.executable, "-m", "connector"]


@pytest.fixture
def connected(sandbox: SandboxServer, account: Account, monkeypatch: pytest.MonkeyPatch) -> Account:
    monkeypatch.setenv("MXGUARD_API_TOKEN", account.token)
    monkeypatch.setenv("MXGUARD_API_URL", sandbox.base_url)
    return account


def read_lines(stream: IO[str], count: int, timeout: float) -> list[str]:
    """Up to ``count`` lines from a child's pipe, waiting at most ``timeout`` seconds."""
    got: list[str] = []

    def reader() -> None:
        while len(got) < count and (line := stream.readline()):
            got.append(line)

    thread = threading.Thread(target=reader, daemon=True)
    thread.start()
    thread.join(timeout)
    return got


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = invoke(list(args))
    out, err = capsys.readouterr()
    return code, out, err


DEEP = "[" * 100_000 + "]" * 100_000


@pytest.mark.parametrize(
    ("args", "code", "says"),
    [
        (["run", "add-domain", "--input", "{oops"], 3, "--input: not valid JSON"),
        (["run", "add-domain", "--input", '{"domain": ' + DEEP + "}"], 3, "nested too deeply"),
        (["run", "find-quarantined-message", "--input", '{"days": ' + "9" * 5001 + "}"], 3, "JSON"),
        (["run", "add-domain", "--input", "[1]"], 3, "must be a JSON object"),
        (["poll", "new-verdict", "--verdict", "nope", "--state", ":memory:"], 3, "'nope'"),
        (["poll", "new-verdict", "--since", "yesterday"], 3, "--since: not an RFC 3339 time"),
        (["poll", "new-verdict", "--since", "2026-11-23T10:00:00"], 3, "give a time zone"),
        (["poll", "new-verdict", "--since", "0001-01-01T00:00:00+14:00"], 3, "before 1970"),
        (["poll", "new-verdict", "--since", "0999-06-01T00:00:00Z"], 3, "before 1970"),
        (["poll", "new-verdict", "--look-back-every", "nan"], 2, "not between"),
        (["poll", "new-verdict", "--interval", "inf"], 2, "not between"),
        (["poll", "new-verdict", "--state", "/dev/null"], 2, "not a regular file"),
        (["poll", "no-such-trigger"], 2, "No such command"),
    ],
)
def test_bad_input_gets_its_documented_exit_code_and_one_line(
    connected: Account, capsys: pytest.CaptureFixture[str], args: list[str], code: int, says: str
) -> None:
    got, out, err = run(capsys, *args)
    assert (got, out) == (code, "")
    assert says in err
    assert "Traceback" not in err
    assert len(err) < 2_000, "an error never echoes a huge input whole"


def test_a_folder_as_state_is_a_usage_error(
    connected: Account, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, _, err = run(capsys, "poll", "new-verdict", "--state", str(tmp_path))
    assert code == 2
    assert f"{tmp_path} is a folder" in err


def test_a_state_path_in_a_missing_folder_creates_nothing(
    connected: Account, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    state = tmp_path / "a" / "b" / "c.db"
    code, _, err = run(capsys, "poll", "new-verdict", "--state", str(state))
    assert code == 2
    assert f"{tmp_path / 'a' / 'b'} does not exist" in err
    assert not (tmp_path / "a").exists()


def test_an_empty_state_file_is_refused_not_taken_for_a_new_cursor(
    connected: Account, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    state = tmp_path / "cursors.db"
    state.touch()
    code, _, err = run(capsys, "poll", "new-verdict", "--state", str(state))
    assert code == 2
    assert "is empty" in err
    assert state.stat().st_size == 0


def test_debug_shows_the_traceback_and_keeps_the_exit_code(
    connected: Account, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(capsys, "--debug", "run", "add-domain", "--input", "{oops")
    assert code == 3
    assert "Traceback" in err
    assert "--debug" in run(capsys, "--help")[1]


def test_without_a_token_the_message_names_the_flag_and_the_variable(
    sandbox: SandboxServer, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MXGUARD_API_TOKEN", raising=False)
    monkeypatch.setenv("MXGUARD_API_URL", sandbox.base_url)
    code, _, err = run(capsys, "me")
    assert code == 4
    assert "MXGUARD_API_TOKEN" in err
    assert "--token" in err
    assert "token=" not in err


def test_help_lists_every_command_summary_whole(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--help")
    assert code == 0
    commands = out[out.index("Commands:") :].splitlines()[1:]
    assert len(commands) >= 10
    assert not [line for line in commands if line.endswith("...")]


def test_a_closed_pipe_ends_the_poll_quietly_with_141(
    sandbox: SandboxServer, admin: SandboxAdmin, account: Account, tmp_path: Path
) -> None:
    env = {**os.environ, "MXGUARD_API_TOKEN": account.token, "MXGUARD_API_URL": sandbox.base_url}
    state = str(tmp_path / "cursors.db")
    first = subprocess.run(
        [*MXGUARD, "poll", "new-verdict", "--state", state],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert first.returncode == 0, first.stderr
    admin.advance_clock(5)  # the burst comes after the cursor's start
    admin.traffic(account, 2000, spread_seconds=1)
    poll = subprocess.Popen(
        [*MXGUARD, "-q", "poll", "new-verdict", "--state", state],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert poll.stdout is not None
    assert poll.stderr is not None
    poll.stdout.readline()
    poll.stdout.close()  # as `| head -1` does
    assert poll.wait(timeout=60) == 141
    assert poll.stderr.read() == b""


def test_sigterm_says_terminated_and_exits_143(
    sandbox: SandboxServer, account: Account, tmp_path: Path
) -> None:
    env = {**os.environ, "MXGUARD_API_TOKEN": account.token, "MXGUARD_API_URL": sandbox.base_url}
    follower = subprocess.Popen(
        [*MXGUARD, "poll", "new-verdict", "--state", str(tmp_path / "c.db"), "--follow"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert follower.stderr is not None
    assert "new_verdict:" in "".join(read_lines(follower.stderr, 1, timeout=60))  # polled once
    follower.send_signal(signal.SIGTERM)
    assert follower.wait(timeout=30) == 143
    assert "mxguard: terminated" in follower.stderr.read()


def test_two_pollers_on_one_cursor_the_second_is_refused(
    sandbox: SandboxServer, admin: SandboxAdmin, account: Account, tmp_path: Path
) -> None:
    env = {**os.environ, "MXGUARD_API_TOKEN": account.token, "MXGUARD_API_URL": sandbox.base_url}
    state = str(tmp_path / "same.db")
    first = subprocess.Popen(
        [*MXGUARD, "poll", "new-verdict", "--state", state, "--follow", "--interval", "1"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert first.stderr is not None
        assert "new_verdict:" in "".join(read_lines(first.stderr, 1, timeout=60))
        admin.advance_clock(5)  # the burst comes after the cursor's start
        admin.traffic(account, 300, spread_seconds=1)
        second = subprocess.run(
            [*MXGUARD, "poll", "new-verdict", "--state", state],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert second.returncode == 6, second.stderr
        assert "another process is polling this cursor" in second.stderr
        assert second.stdout == ""
        other_filters = subprocess.run(
            [*MXGUARD, "poll", "new-verdict", "--verdict", "spam", "--state", state],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert other_filters.returncode == 0, "another cursor in the same file is free"
        assert first.stdout is not None
        emitted = read_lines(first.stdout, 300, timeout=60)
        assert len({json.loads(line)["id"] for line in emitted}) == 300
    finally:
        first.terminate()
        first.wait(timeout=30)


def test_a_conflict_names_the_command_as_the_cli_spells_it(
    connected: Account, capsys: pytest.CaptureFixture[str]
) -> None:
    add = ["run", "add-domain", "--domain", "twice.example", "--real-mx-host"]
    assert run(capsys, *add, "mail.twice.example")[0] == 0
    code, _, err = run(capsys, *add, "other.twice.example")
    assert code == 6
    assert "update-domain" in err
    assert "update_domain" not in err
