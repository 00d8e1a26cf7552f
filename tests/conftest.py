"""Shared fixtures: real sandboxes on loopback ports, and fresh accounts in them."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator

import pytest

from connector.profiles import CONFIG_DIR_ENV
from sandbox.server import SandboxServer
from sandbox.settings import SandboxSettings
from tests.bridge_support import receiver  # noqa: F401 - a fixture for every bridge test
from tests.cli_support import mxguard  # noqa: F401 - a fixture for the command-line tests
from tests.support import Account, SandboxAdmin


def pytest_configure(config: pytest.Config) -> None:
    """No test reads the profiles of whoever runs the suite: a command without a token would
    otherwise use their profile "default". Tests of profiles set a folder of their own."""
    os.environ[CONFIG_DIR_ENV] = tempfile.mkdtemp(prefix="mxguard-test-config-")


@pytest.fixture(scope="session")
def sandbox() -> Iterator[SandboxServer]:
    """A sandbox at the documented limits (60/min, 600/h per token), with the demo account."""
    with SandboxServer(SandboxSettings(seed="demo")) as server:
        yield server


@pytest.fixture(scope="session")
def admin(sandbox: SandboxServer) -> SandboxAdmin:
    return SandboxAdmin(sandbox)


@pytest.fixture
def account(admin: SandboxAdmin) -> Account:
    """A fresh, empty customer with one domain, ``example.com``."""
    return admin.new_account(domains=("example.com",))


@pytest.fixture(scope="session")
def roomy_sandbox() -> Iterator[SandboxServer]:
    """A sandbox with rate limits high enough not to matter (for long generated test runs)."""
    settings = SandboxSettings(seed="demo", rate_per_minute=1_000_000, rate_per_hour=10_000_000)
    with SandboxServer(settings) as server:
        yield server


@pytest.fixture
def sandbox_token_admin(
    sandbox: SandboxServer, admin: SandboxAdmin
) -> tuple[SandboxAdmin, Account]:
    """The seeded demo customer, reached with a second token of its own (fresh rate budget)."""
    from sandbox.tokens import hash_token

    store = sandbox.app.state.sandbox.store
    row = store._one(
        "SELECT customer_id FROM tokens WHERE hash = ?", (hash_token(sandbox.settings.token),)
    )
    assert row is not None
    return admin, admin.issue_token(row["customer_id"])
