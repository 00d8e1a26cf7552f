"""The real-n8n tests take minutes and a 3 GB install: they run in their own tox env
(``tox -e n8n``, which sets ``MXGUARD_N8N_REAL=1``) or when this folder is named on the command
line, never as part of the default ``pytest`` run."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent


def _asked_for(config: pytest.Config) -> bool:
    if os.environ.get("MXGUARD_N8N_REAL") == "1":
        return True
    return any("n8n_real" in str(arg) for arg in config.invocation_params.args)


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    if collection_path.is_relative_to(HERE) and collection_path != HERE / "conftest.py":
        return None if _asked_for(config) else True
    return None
