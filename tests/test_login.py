"""``mxguard login``, ``--profile``, ``profiles`` and ``logout`` against a live sandbox.

In-process (``invoke``), every file in ``tmp_path`` (``$MXGUARD_CONFIG_DIR``, and the XDG
folders for the client's rate-limit file) and the keyring a backend of the test's own, set with
``keyring.set_keyring`` and put back after it: neither the user's config nor their keyring is
touched. Every output, error and file is checked for the token.
"""

from __future__ import annotations

import getpass
import io
import json
import stat
import sys
from dataclasses import dataclass, field
from pathlib import Path

import keyring
import keyring.core
import pytest
from keyring.backend import KeyringBackend
from keyring.backends import fail, null

from api_client import Secret
from connector.exits import Exit
from connector.profiles import SERVICE
from sandbox.server import SandboxServer
from tests.cli_support import Result, run_in_process
from tests.support import Account, SandboxAdmin


class MemoryKeyring(KeyringBackend):
    """A keyring in a dict: what the tests' logins store, and nothing else."""

    priority = 1  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        self.entries: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.entries.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.entries[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        if self.entries.pop((service, username), None) is None:
            raise keyring.errors.PasswordDeleteError("not there")


@dataclass
class Cli:
    """Runs ``mxguard`` in-process with only the given MXGUARD_ variables; keeps every output."""

    config: Path
    capsys: pytest.CaptureFixture[str]
    monkeypatch: pytest.MonkeyPatch
    seen: list[str] = field(default_factory=list)

    def __call__(
        self, *args: str, stdin: str = "", env: dict[str, str] | None = None, terminal: bool = False
    ) -> Result:
        self.monkeypatch.setattr(sys, "stdin", Terminal(stdin) if terminal else io.StringIO(stdin))
        variables = {"MXGUARD_CONFIG_DIR": str(self.config), **(env or {})}
        result = run_in_process(self.capsys, self.monkeypatch, args, variables)
        self.seen += [result.stdout, result.stderr]
        return result

    def files(self) -> dict[str, str]:
        """Every file in the config folder but the token file, by name."""
        if not self.config.exists():
            return {}
        return {p.name: p.read_text() for p in self.config.iterdir() if p.name != "tokens.json"}

    def assert_never_shown(self, token: str) -> None:
        """Neither the token nor a part of its body in any output, error or profiles file."""
        body = token.removeprefix("mxg_test_")
        for text in [*self.seen, *self.files().values()]:
            assert token not in text
            assert body[:12] not in text
            assert body[-12:] not in text


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture
def memory_keyring(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> MemoryKeyring:
    """keyring's backend for this test only; the XDG folders in ``tmp_path`` too."""
    for name in ("XDG_CONFIG_HOME", "XDG_CACHE_HOME", "XDG_DATA_HOME"):
        monkeypatch.setenv(name, str(tmp_path / name.lower()))
    monkeypatch.setattr(keyring.core, "_keyring_backend", None)  # put back after the test
    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    return backend


@pytest.fixture
def cli(
    memory_keyring: MemoryKeyring,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> Cli:
    return Cli(tmp_path / "config", capsys, monkeypatch)


def _url(sandbox: SandboxServer) -> dict[str, str]:
    return {"MXGUARD_API_URL": sandbox.base_url}


def _profiles_file(cli: Cli) -> dict[str, dict[str, str]]:
    profiles: dict[str, dict[str, str]] = json.loads(cli.files()["profiles.json"])["profiles"]
    return profiles


def test_login_round_trip_through_the_keyring(
    cli: Cli, memory_keyring: MemoryKeyring, sandbox: SandboxServer, account: Account
) -> None:
    login = cli("login", stdin=account.token + "\n", env=_url(sandbox))
    assert login.returncode == 0, login.stderr
    shown = json.loads(login.stdout)
    fingerprint = Secret(account.token).fingerprint
    assert shown["profile"] == "default"
    assert shown["customer_id"] == account.customer_id
    assert shown["fingerprint"] == fingerprint
    assert shown["base_url"] == sandbox.base_url
    assert shown["token_store"] == "keyring"
    assert shown["token_location"] == "test login MemoryKeyring"
    assert "saved profile 'default'" in login.stderr
    assert "no keyring" not in login.stderr
    assert memory_keyring.entries == {(SERVICE, "default"): account.token}
    assert not (cli.config / "tokens.json").exists()
    kept = _profiles_file(cli)["default"]
    assert kept["customer_id"] == account.customer_id
    assert kept["fingerprint"] == fingerprint
    assert kept["account_name"] == shown["account_name"]

    # no token and no base URL given: both come from the profile "default"
    me = cli("me")
    assert me.returncode == 0, me.stderr
    assert json.loads(me.stdout)["id"] == account.customer_id

    # logging in again keeps the profile's base URL and says it replaced it
    again = cli("--debug", "login", stdin=account.token)
    assert again.returncode == 0, again.stderr
    assert "replaced profile 'default'" in again.stderr
    assert json.loads(again.stdout)["base_url"] == sandbox.base_url
    cli.assert_never_shown(account.token)


def test_login_asks_without_echo_on_a_terminal(
    cli: Cli,
    memory_keyring: MemoryKeyring,
    sandbox: SandboxServer,
    account: Account,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    asked: list[str] = []

    def hidden(prompt: str = "Password: ", stream: object = None) -> str:
        asked.append(prompt)
        return account.token

    monkeypatch.setattr(getpass, "getpass", hidden)
    login = cli("login", "--profile", "work", env=_url(sandbox), terminal=True)
    assert login.returncode == 0, login.stderr
    assert asked == ["MxGuard API token: "]
    assert memory_keyring.entries == {(SERVICE, "work"): account.token}
    assert cli("me").returncode == Exit.AUTHENTICATION  # no profile "default"
    by_option = cli("--profile", "work", "me")
    by_variable = cli("me", env={"MXGUARD_PROFILE": "work"})
    for result in (by_option, by_variable):
        assert result.returncode == 0, result.stderr
        assert json.loads(result.stdout)["id"] == account.customer_id
    cli.assert_never_shown(account.token)


@pytest.mark.parametrize("backend", [fail.Keyring(), null.Keyring()], ids=["fail", "null"])
def test_without_a_keyring_the_token_goes_to_a_private_file_and_it_is_said(
    cli: Cli, sandbox: SandboxServer, account: Account, backend: KeyringBackend
) -> None:
    keyring.set_keyring(backend)
    login = cli("-q", "login", "--profile", "server", stdin=account.token, env=_url(sandbox))
    assert login.returncode == 0, login.stderr
    tokens = cli.config / "tokens.json"
    assert "no keyring backend is available" in login.stderr
    assert f"stored in {tokens}, readable by you alone (mode 0600)" in login.stderr
    assert stat.S_IMODE(tokens.stat().st_mode) == 0o600
    assert stat.S_IMODE(cli.config.stat().st_mode) == 0o700
    assert json.loads(tokens.read_text())["tokens"] == {"server": account.token}
    kept = _profiles_file(cli)["server"]
    assert (kept["token_store"], kept["token_location"]) == ("file", str(tokens))

    me = cli("--profile", "server", "me")
    assert me.returncode == 0, me.stderr
    assert json.loads(me.stdout)["id"] == account.customer_id

    out = cli("logout", "--profile", "server")
    assert (out.returncode, json.loads(out.stdout)["outcome"]) == (0, "removed")
    assert json.loads(tokens.read_text())["tokens"] == {}
    assert _profiles_file(cli) == {}
    cli.assert_never_shown(account.token)


def test_a_token_file_others_can_read_is_refused(
    cli: Cli, sandbox: SandboxServer, account: Account
) -> None:
    keyring.set_keyring(fail.Keyring())
    assert cli("login", stdin=account.token, env=_url(sandbox)).returncode == 0
    (cli.config / "tokens.json").chmod(0o644)
    me = cli("me")
    assert me.returncode == Exit.FAILED
    assert "can be read by other users (mode 0644): `chmod 600" in me.stderr
    cli.assert_never_shown(account.token)


def test_a_wrong_token_is_refused_before_anything_is_stored(
    cli: Cli,
    memory_keyring: MemoryKeyring,
    admin: SandboxAdmin,
    sandbox: SandboxServer,
    account: Account,
) -> None:
    unknown = "mxg_test_" + "Q" * 43
    malformed = account.token[:-1] + "!"
    cases = [
        (malformed, "malformed MxGuard token in standard input: character 52"),
        (account.token[:20], "malformed MxGuard token in standard input: it has 11 characters"),
        ("", "no token in standard input"),
        (unknown, "authentication failed"),
    ]
    for given, says in cases:
        result = cli("login", stdin=given, env=_url(sandbox))
        assert result.returncode == Exit.AUTHENTICATION, result
        assert says in result.stderr
        assert result.stdout == ""
        assert memory_keyring.entries == {}
        assert cli.files() == {} or _profiles_file(cli) == {}
    assert cli("profiles", "--json").stdout.strip() == "[]"

    # a revoked token fails too, and leaves the profile it would have replaced as it was
    assert cli("login", stdin=account.token, env=_url(sandbox)).returncode == 0
    before = cli.files()["profiles.json"]
    other = admin.new_account()
    admin.revoke(other)
    refused = cli("login", stdin=other.token)
    assert refused.returncode == Exit.AUTHENTICATION
    assert cli.files()["profiles.json"] == before
    assert memory_keyring.entries == {(SERVICE, "default"): account.token}
    for token in (account.token, other.token, unknown, malformed):
        cli.assert_never_shown(token)


def test_the_given_token_wins_over_the_profile_and_debug_says_which(
    cli: Cli, admin: SandboxAdmin, sandbox: SandboxServer, account: Account
) -> None:
    other = admin.new_account()
    assert cli("login", "--profile", "a", stdin=account.token, env=_url(sandbox)).returncode == 0
    assert cli("login", "--profile", "b", stdin=other.token, env=_url(sandbox)).returncode == 0

    from_profile = cli("--debug", "--profile", "a", "me")
    assert json.loads(from_profile.stdout)["id"] == account.customer_id
    assert "token of profile 'a' (" in from_profile.stderr
    assert "from the keyring (test login MemoryKeyring)" in from_profile.stderr

    given = {"MXGUARD_API_TOKEN": other.token, **_url(sandbox)}
    explicit = cli("--debug", "--profile", "a", "me", env=given)
    assert explicit.returncode == 0, explicit.stderr
    assert json.loads(explicit.stdout)["id"] == other.customer_id
    assert "token of --token/$MXGUARD_API_TOKEN; profile 'a' is not used" in explicit.stderr
    assert "token of profile" not in explicit.stderr

    elsewhere = cli("--profile", "b", "--base-url", "http://127.0.0.1:9", "me")
    assert elsewhere.returncode == Exit.UNAVAILABLE
    assert f"profile 'b' logged in at {sandbox.base_url}; its token goes to" in elsewhere.stderr
    cli.assert_never_shown(account.token)
    cli.assert_never_shown(other.token)


def test_no_token_and_no_profile_say_how_to_log_in(cli: Cli) -> None:
    none = cli("me")
    assert none.returncode == Exit.AUTHENTICATION
    assert "no MxGuard token: log in once with `mxguard login`" in none.stderr
    assert "MXGUARD_API_TOKEN" in none.stderr

    missing = cli("--profile", "nope", "me")
    assert missing.returncode == Exit.AUTHENTICATION
    assert "no profile 'nope' (profiles: none yet)" in missing.stderr
    assert "`mxguard login --profile nope`" in missing.stderr

    bad = cli("--profile", "../etc", "me")
    assert bad.returncode == Exit.USAGE
    assert "is not a profile name" in bad.stderr
    assert not cli.config.exists()


def test_profiles_lists_account_customer_url_and_fingerprint_never_the_token(
    cli: Cli, admin: SandboxAdmin, sandbox: SandboxServer, account: Account
) -> None:
    assert cli("profiles").stdout == ""
    other = admin.new_account()
    for name, who in (("default", account), ("acme", other)):
        login = cli("login", "--profile", name, stdin=who.token, env=_url(sandbox))
        assert login.returncode == 0, login.stderr

    table = cli("profiles", env={"MXGUARD_PROFILE": "acme"})
    assert table.returncode == 0, table.stderr
    header, first, second = table.stdout.splitlines()
    columns = ["PROFILE", "ACCOUNT", "CUSTOMER", "BASE", "URL", "FINGERPRINT", "TOKEN", "IN"]
    assert header.split() == columns
    assert first.startswith("*  acme ")
    assert second.startswith("   default ")
    for line, who in ((first, other), (second, account)):
        assert who.customer_id in line
        assert sandbox.base_url in line
        assert Secret(who.token).fingerprint in line
        assert line.rstrip().endswith("keyring")

    listed = json.loads(cli("profiles", "--json").stdout)
    assert [p["profile"] for p in listed] == ["acme", "default"]
    assert [p["customer_id"] for p in listed] == [other.customer_id, account.customer_id]
    assert [p["fingerprint"] for p in listed] == [
        Secret(other.token).fingerprint,
        Secret(account.token).fingerprint,
    ]
    assert all(p["account_name"] and p["base_url"] == sandbox.base_url for p in listed)
    cli.assert_never_shown(account.token)
    cli.assert_never_shown(other.token)


def test_logout_removes_the_keyring_entry_and_the_profile(
    cli: Cli, memory_keyring: MemoryKeyring, sandbox: SandboxServer, account: Account
) -> None:
    assert cli("login", "--profile", "work", stdin=account.token, env=_url(sandbox)).returncode == 0
    out = cli("--profile", "work", "logout")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == {"profile": "work", "outcome": "removed"}
    assert "the token stays valid at MxGuard until you revoke it there" in out.stderr
    assert memory_keyring.entries == {}
    assert _profiles_file(cli) == {}
    gone = cli("--profile", "work", "me")
    assert gone.returncode == Exit.AUTHENTICATION
    assert "no profile 'work'" in gone.stderr
    again = cli("logout", "--profile", "work")
    assert (again.returncode, json.loads(again.stdout)["outcome"]) == (0, "already_absent")
    cli.assert_never_shown(account.token)


def test_a_token_gone_from_the_keyring_says_to_log_in_again(
    cli: Cli, memory_keyring: MemoryKeyring, sandbox: SandboxServer, account: Account
) -> None:
    assert cli("login", stdin=account.token, env=_url(sandbox)).returncode == 0
    memory_keyring.entries.clear()
    me = cli("me")
    assert me.returncode == Exit.AUTHENTICATION
    assert "the token of profile 'default' is no longer in the keyring" in me.stderr
    assert "`mxguard login --profile default`" in me.stderr
