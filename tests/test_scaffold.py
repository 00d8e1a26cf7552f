"""``mxguard scaffold``: a new operation passes the test suite before anyone edits it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from connector.scaffold import FOLDERS

ROOT = Path(__file__).resolve().parents[1]


def _copy_project(target: Path) -> Path:
    listed = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    for name in listed:
        source = ROOT / name
        if source.is_file() and not name.startswith(("bench/", "tools/", "tests/n8n_real/")):
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target / name)
    return target


def _run(copy: Path, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(copy)}
    return subprocess.run(
        [sys.executable, *args],
        cwd=copy,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@pytest.mark.slow
def test_scaffolded_operations_are_one_module_and_one_test_and_pass_unedited(
    tmp_path: Path,
) -> None:
    copy = _copy_project(tmp_path / "project")
    for kind, name in (("action", "weekly_summary"), ("trigger", "new_partner_domain")):
        made = _run(copy, "-m", "connector", "scaffold", kind, name)
        assert made.returncode == 0, made.stderr
        lines = made.stdout.splitlines()
        written = [line.removeprefix("wrote ") for line in lines if line.startswith("wrote ")]
        sources = sorted(p for p in written if not p.startswith("manifests/"))
        assert sources == sorted([f"{FOLDERS[kind]}/{name}.py", f"tests/test_scaffolded_{name}.py"])
    assert (copy / "manifests" / "actions" / "weekly_summary.json").exists()
    assert (copy / "manifests" / "triggers" / "new_partner_domain.json").exists()
    check = _run(copy, "-m", "connector", "manifests", "check")
    assert check.returncode == 0, check.stderr
    listed = _run(copy, "-m", "connector", "list").stdout
    assert "weekly-summary" in listed
    assert "new-partner-domain" in listed
    tests = _run(
        copy,
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        "tests/test_scaffolded_weekly_summary.py",
        "tests/test_scaffolded_new_partner_domain.py",
        "tests/test_manifests.py",
    )
    assert tests.returncode == 0, tests.stdout[-3000:]
    assert " passed" in tests.stdout


def test_bad_names_and_places_are_refused(tmp_path: Path) -> None:
    for name, message in (
        ("Bad Name", "lower-case letters"),
        ("new_verdict", "exists already"),
        ("x", "lower-case letters"),
    ):
        result = _run(ROOT, "-m", "connector", "scaffold", "trigger", name, "--root", str(ROOT))
        assert result.returncode == 2
        assert message in result.stderr
    elsewhere = _run(
        ROOT, "-m", "connector", "scaffold", "action", "fine_name", "--root", str(tmp_path)
    )
    assert elsewhere.returncode == 2
    assert "not the project's root" in elsewhere.stderr
