"""Folders of tests that run only in a tox environment of their own (real n8n, a real browser):
never in the default ``pytest`` run, unless the folder (or a file in it) is named on the command
line."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


def asked_for(folder: Path, env: str, config: pytest.Config) -> bool:
    """``$env`` is ``1``, or an argument of the command line is in ``folder``."""
    if os.environ.get(env) == "1":
        return True
    for arg in config.invocation_params.args:
        named = Path(str(arg).split("::")[0]).resolve()
        if named == folder or named.is_relative_to(folder):
            return True
    return False


def ignore_unless_asked(
    folder: Path, env: str, collection_path: Path, config: pytest.Config
) -> bool | None:
    """``pytest_ignore_collect`` for ``folder``'s conftest: its tests are skipped from
    collection unless asked for (the conftest itself is always read, for this hook)."""
    if collection_path.is_relative_to(folder) and collection_path != folder / "conftest.py":
        return None if asked_for(folder, env, config) else True
    return None
