"""``mxguard`` run in-process, as the command-line tests run it: only the MXGUARD_ variables a
test gives are set, and what it printed is captured."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import pytest

from connector.cli import invoke
from tests.support import Account


@dataclass
class Result:
    returncode: int
    stdout: str
    stderr: str


def run_in_process(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    args: Iterable[str],
    env: Mapping[str, str],
) -> Result:
    """``mxguard *args`` with ``env`` as its only MXGUARD_ variables."""
    for name in [k for k in os.environ if k.startswith("MXGUARD_")]:
        monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    capsys.readouterr()
    code = invoke(list(args))
    out, err = capsys.readouterr()
    return Result(code, out, err)


Run = Callable[..., Result]


@pytest.fixture
def mxguard(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Run:
    """Run the command line in-process: ``mxguard(*args, account=, base_url=, **MXGUARD_vars)``."""

    def run(*args: str, account: Account | None = None, base_url: str = "", **env: Any) -> Result:
        if account:
            env["MXGUARD_API_TOKEN"] = account.token
        if base_url:
            env["MXGUARD_API_URL"] = base_url
        return run_in_process(capsys, monkeypatch, args, env)

    return run
