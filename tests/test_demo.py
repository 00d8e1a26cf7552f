"""``mxguard demo`` as people run it: the late-verdict count, the seed, the workflow, the output.

Each test runs the real demo (in-process, output captured, or as a piped subprocess) with
``--pause 0``; the demo keeps time on the sandbox clock, so nothing here depends on the date or
on how fast the machine is.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from connector.demo import run_demo
from sandbox.generator import CLEAN_SENDERS, SPAM_SENDERS

LATE_PER_ROUND = 3
ROUND = re.compile(r"^round (\d+): (\d+) messages arrived; triggers saw (\d+) new quarantined, ")
HELD = re.compile(r"^ +held (\w+) +(\S+) +→ (\S+) +“(.*)”$")
MORE = re.compile(r"^ +… and (\d+) more$")
RELEASED = re.compile(r"^ +released “(.+)” from (\S+) to (\S+), held as (\w+)")
BLOCKED = re.compile(r"^ +blocked \*@(\S+) for (\S+) ")
VOLATILE = (
    (re.compile(r"127\.0\.0\.1:\d+"), "127.0.0.1:PORT"),
    (re.compile(r"\b(qmsg|rul|vrd)_[0-9a-f]{24}\b"), r"\1_ID"),
)


def demo_output(capsys: pytest.CaptureFixture[str], rounds: int = 4, seed: int = 7) -> str:
    run_demo(rounds=rounds, pause=0, seed=seed)
    return capsys.readouterr().out


def without_random_ids(text: str) -> str:
    for pattern, replacement in VOLATILE:
        text = pattern.sub(replacement, text)
    return text


def test_every_verdict_published_late_is_counted_as_caught(
    capsys: pytest.CaptureFixture[str],
) -> None:
    out = demo_output(capsys, rounds=4)
    late = re.search(r"(\d+)(?: of (\d+))? published late and still caught", out.replace("\n", " "))
    assert late, out
    assert int(late.group(1)) == 4 * LATE_PER_ROUND, out
    assert late.group(2) is not None, out
    assert int(late.group(2)) == 4 * LATE_PER_ROUND, out
    arrived = sum(int(m.group(2)) for m in map(ROUND.match, out.splitlines()) if m)
    total = re.search(r"(\d+) messages arrived, (\d+) distinct verdicts emitted — every one", out)
    assert total, out
    assert int(total.group(1)) == int(total.group(2)) == arrived, out


def test_the_bridge_pushes_the_trigger_s_verdicts_as_verified_webhooks_once_each(
    capsys: pytest.CaptureFixture[str],
) -> None:
    out = demo_output(capsys, rounds=3).replace("\n", " ")
    pushed = re.search(
        r"The bridge pushed (\d+) signed webhooks .* verified, (\d+) twice: the same", out
    )
    assert pushed, out
    emitted = re.search(r"(\d+) messages arrived, (\d+) distinct verdicts emitted", out)
    assert emitted, out
    assert int(pushed.group(1)) == int(emitted.group(2)) > 0
    assert pushed.group(2) == "0"


def test_the_same_seed_gives_the_same_demo(capsys: pytest.CaptureFixture[str]) -> None:
    first = without_random_ids(demo_output(capsys, rounds=3, seed=7))
    second = without_random_ids(demo_output(capsys, rounds=3, seed=7))
    assert first.splitlines() == second.splitlines()
    other = without_random_ids(demo_output(capsys, rounds=3, seed=8))
    assert other.splitlines() != first.splitlines(), "the seed decides the traffic"


def test_releases_a_false_positive_and_blocks_a_spammer(
    capsys: pytest.CaptureFixture[str],
) -> None:
    lines = demo_output(capsys, rounds=3).splitlines()
    released = [m for m in map(RELEASED.match, lines) if m]
    assert len(released) == 1, lines
    subject, sender, recipient, reason = released[0].groups()
    assert sender in CLEAN_SENDERS, "a legitimate sender"
    assert subject.startswith("Invoice ")
    assert reason == "spam"
    held = [m.groups() for m in map(HELD.match, lines) if m]
    assert ("spam", sender, recipient, subject) in held, "released what the trigger showed held"

    blocked = [m for m in map(BLOCKED.match, lines) if m]
    assert len(blocked) == 1, lines
    spam_domain, domain = blocked[0].groups()
    assert spam_domain in {address.partition("@")[2] for address in SPAM_SENDERS}
    assert spam_domain != sender.partition("@")[2]
    assert any(
        r == "spam" and s.endswith("@" + spam_domain) and to.endswith("@" + domain)
        for r, s, to, _ in held
    ), "blocked a sender whose spam was held for that domain"
    rejected = f"Mail from *@{spam_domain} to {domain} is now rejected as 'blocked'"
    assert any(line.startswith(rejected) for line in lines), lines


def test_piped_output_lists_every_held_message_and_keeps_lines_whole() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MXGUARD_", "FORCE_"))}
    env["COLUMNS"] = "80"
    result = subprocess.run(
        [sys.executable, "-m", "connector", "demo", "--rounds", "4", "--pause", "0"],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    rounds = [(i, m) for i, m in enumerate(map(ROUND.match, lines)) if m]
    assert [int(m.group(1)) for _, m in rounds] == [1, 2, 3, 4], result.stdout
    assert any(int(m.group(3)) > 3 for _, m in rounds), "seed 7 holds more than 3 in a round"
    for index, match in rounds:
        assert lines[index].endswith(" verified webhooks in all"), lines[index]
        new = int(match.group(3))
        shown = lines[index + 1 : index + 1 + min(new, 3)]
        assert all(HELD.match(line) for line in shown), shown
        after = MORE.match(lines[index + 1 + min(new, 3)])
        if new > 3:
            assert after, lines[index : index + 6]
            assert int(after.group(1)) == new - 3, lines[index : index + 6]
        else:
            assert after is None
    summary = [line for line in lines if "published late and still caught" in line]
    assert len(summary) == 1, result.stdout
    assert " verdicts and " in summary[0], result.stdout
    assert any(line.strip() == "What the triggers emitted" for line in lines), result.stdout
    assert any(" distinct verdicts emitted" in line for line in lines), result.stdout
