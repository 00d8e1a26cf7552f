"""The console in a real browser: Debian's Chromium (``/usr/bin/chromium``, or
``$MXGUARD_CHROMIUM``) driven headless by Playwright, never a browser Playwright downloads.

These tests run in their own tox environment (``tox -e browser``, which sets
``MXGUARD_BROWSER=1``) or when this folder is named on the command line, never in the default
``pytest`` run. Screenshots of each state are written to ``$MXGUARD_ARTIFACTS`` (default:
``build/artifacts/console`` under the project), kept as the run's artifacts.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.heavy_env import ignore_unless_asked

if TYPE_CHECKING:
    from playwright.sync_api import Browser

HERE = Path(__file__).resolve().parent
PROJECT = HERE.parent.parent
CHROMIUM = os.environ.get("MXGUARD_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",  # CI runs as root, where Chromium's sandbox refuses to start
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    # the machine has no internet: without these, Chromium keeps trying Google's hosts
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    return ignore_unless_asked(HERE, "MXGUARD_BROWSER", collection_path, config)


@pytest.fixture(scope="session")
def artifacts() -> Path:
    folder = Path(os.environ.get("MXGUARD_ARTIFACTS", PROJECT / "build" / "artifacts" / "console"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture(scope="session")
def chromium() -> Iterator[Browser]:
    """One headless Chromium for the session; each test opens its own context (cookies)."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium (.ci/run does)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()
