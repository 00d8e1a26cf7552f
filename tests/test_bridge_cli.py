"""``mxguard bridge subscribe|list|unsubscribe|deliveries|recover``: the command line as a client
of a running bridge (its app served by uvicorn on a loopback port, the sandbox as MxGuard), run
in-process with ``invoke``; its answers as JSON, its errors as the documented exit codes, and the
token never shown."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import click
import pytest

from api_client import MxGuardClient, Secret
from bridge.api import create_app
from bridge.secrets_box import SecretBox
from bridge.storage import BridgeStorage
from connector import registry
from connector.cli import bridge as bridge_cli
from connector.cli import invoke
from sandbox.server import LOOPBACK, LoopbackServer, SandboxServer, free_port
from tests.bridge_support import (
    open_storage,
    public_resolver,
    seed_attempts,
)
from tests.support import Account

MICROS = 1_000_000
START = 1_800_000_000 * MICROS
"""2027-01-15T08:00:00Z: the bridge's clock."""
TARGET = "https://receiver.example/hooks/mxguard"
UNKNOWN_TOKEN = "mxg_test_" + "Z" * 43
"""Well formed, but MxGuard has never issued it."""


@dataclass
class RunningBridge:
    base_url: str
    storage: BridgeStorage


@pytest.fixture(scope="module")
def running_bridge(
    sandbox: SandboxServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningBridge]:
    """The bridge's API (``create_app``, as ``bridge serve`` builds it) on a loopback port."""
    folder: Path = tmp_path_factory.mktemp("bridge")
    storage = open_storage(folder / "bridge.sqlite", SecretBox.from_environment(folder, environ={}))
    app = create_app(
        storage,
        triggers=registry.triggers(),
        client_factory=lambda token: MxGuardClient(
            token, sandbox.base_url, rate_limit_db=":memory:"
        ),
        clock_us=lambda: START,
        resolve=public_resolver,
    )
    server = LoopbackServer(app, name="the bridge").start()
    yield RunningBridge(server.base_url, storage)
    server.stop()
    storage.close()


@dataclass
class Cli:
    """Runs ``mxguard`` in-process; keeps everything it printed, to look for the token in."""

    capsys: pytest.CaptureFixture[str]
    printed: list[str] = field(default_factory=list)

    def __call__(self, *args: str) -> tuple[int, str, str]:
        code = invoke(list(args))
        out, err = self.capsys.readouterr()
        self.printed += [out, err]
        return code, out, err

    def ok(self, *args: str) -> Any:
        code, out, err = self(*args)
        assert code == 0, err
        return json.loads(out)


@pytest.fixture
def cli(
    running_bridge: RunningBridge,
    account: Account,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Cli]:
    """The CLI with the account's token and the bridge in the environment; afterwards, nothing
    it printed holds a trace of the token."""
    monkeypatch.setenv("MXGUARD_API_TOKEN", account.token)
    monkeypatch.setenv("MXGUARD_BRIDGE_URL", running_bridge.base_url)
    monkeypatch.delenv("MXGUARD_API_URL", raising=False)
    made = Cli(capsys)
    yield made
    secret = Secret(account.token)
    for text in made.printed:
        assert account.token not in text
        assert secret.scrub(text) == text, "no part of the token either"


# -- the round trip ----------------------------------------------------------------------------


def test_subscribe_list_deliveries_recover_unsubscribe(
    cli: Cli, running_bridge: RunningBridge, account: Account
) -> None:
    code, out, err = cli("bridge", "subscribe", "new-verdict", "--target", TARGET)
    assert code == 0, err
    created = json.loads(out)
    assert created["id"].startswith("sub_")
    assert created["event"] == "new_verdict"
    assert created["target_url"] == TARGET
    assert created["status"] == "active"
    assert created["secret"].startswith("whsec_")
    assert "shown this once" in err
    shown = {k: v for k, v in created.items() if k != "secret"}
    assert cli.ok("bridge", "list") == [shown]
    assert cli.ok("bridge", "list", "--target", TARGET) == [shown]
    assert cli.ok("bridge", "list", "--target", "https://other.example/hook") == []

    stream = f"new_verdict:{Secret(account.token).fingerprint}"
    seed_attempts(running_bridge.storage, stream, created["id"], START)
    attempts = cli.ok("bridge", "deliveries", created["id"])
    assert [(a["status_code"], a["excerpt"]) for a in attempts] == [
        (None, "connection refused"),
        (200, "ok"),
        (500, "boom"),
    ]
    assert attempts[0]["next_retry_at"] == "2027-01-15T08:05:17.000000Z"
    assert cli.ok("bridge", "deliveries", created["id"], "--limit", "1") == attempts[:1]

    later = cli.ok("bridge", "recover", created["id"], "--since", "2027-01-15T09:00:00Z")
    assert later == {"requeued": 0, "status": "active"}
    since = "2027-01-15T09:00:00+01:00"  # any zone: 08:00 UTC
    assert cli.ok("bridge", "recover", created["id"], "--since", since) == {
        "requeued": 1,
        "status": "active",
    }

    gone = cli.ok("bridge", "unsubscribe", created["id"])
    assert gone == {"id": created["id"], "unsubscribed": True}
    assert cli.ok("bridge", "list") == []
    code, out, err = cli("bridge", "unsubscribe", created["id"])
    assert (code, out) == (5, "")


def test_description_secret_and_quiet(cli: Cli) -> None:
    secret = "whsec_" + "A" * 44
    code, out, err = cli(
        "-q",
        "bridge",
        "subscribe",
        "new_domain",
        "--target",
        TARGET,
        "--description",
        "zap 1",
        "--secret",
        secret,
    )
    assert (code, err) == (0, "")
    created = json.loads(out)
    assert (created["event"], created["description"], created["secret"]) == (
        "new_domain",
        "zap 1",
        secret,
    )


# -- filters -----------------------------------------------------------------------------------


def test_a_filter_key_given_twice_makes_a_list(cli: Cli) -> None:
    created = cli.ok(
        "bridge",
        "subscribe",
        "new-verdict",
        "--target",
        TARGET,
        "--filter",
        "verdict=spam",
        "--filter",
        "verdict=phishing",
        "--filter",
        "domain=example.com",
    )
    assert created["filters"] == {
        "domain": "example.com",
        "verdict": ["spam", "phishing"],
        "action": [],
    }


def test_a_list_filter_given_once_is_a_list_of_one(cli: Cli) -> None:
    created = cli.ok(
        "bridge", "subscribe", "new-verdict", "--target", TARGET, "--filter", "verdict=phishing"
    )
    assert created["filters"]["verdict"] == ["phishing"]


def test_filter_overrides_the_keys_of_filters_json(cli: Cli) -> None:
    created = cli.ok(
        "bridge",
        "subscribe",
        "new-verdict",
        "--target",
        TARGET,
        "--filters",
        '{"verdict": ["spam"], "action": ["quarantined"]}',
        "--filter",
        "verdict=malware",
    )
    assert created["filters"]["verdict"] == ["malware"]
    assert created["filters"]["action"] == ["quarantined"]


@pytest.mark.parametrize(
    ("options", "says"),
    [
        (["--filter", "verdict"], "--filter: 'verdict' is not KEY=VALUE"),
        (["--filter", "=spam"], "is not KEY=VALUE"),
        (["--filters", "{oops"], "--filters: not valid JSON"),
        (["--filters", "[1]"], "--filters: must be a JSON object"),
        (["--filter", "domain=not a domain"], "filters.domain"),
        (["--filter", "colour=red"], "filters.colour"),
    ],
)
def test_bad_filters_are_invalid_input(cli: Cli, options: list[str], says: str) -> None:
    code, out, err = cli("bridge", "subscribe", "new-verdict", "--target", TARGET, *options)
    assert (code, out) == (3, "")
    assert says in err
    assert err.startswith("mxguard: ")


# -- errors and exit codes ---------------------------------------------------------------------


def test_an_unknown_event_is_invalid_input_naming_the_events(cli: Cli) -> None:
    code, out, err = cli("bridge", "subscribe", "new-weather", "--target", TARGET)
    assert (code, out) == (3, "")
    assert "invalid input: event: no event 'new_weather'" in err
    assert "new_verdict" in err


def test_a_refused_target_is_invalid_input(cli: Cli) -> None:
    code, out, err = cli("bridge", "subscribe", "new-verdict", "--target", "http://127.0.0.1/h")
    assert (code, out) == (3, "")
    assert "target refused" in err


def test_a_token_mxguard_does_not_know_is_exit_4(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MXGUARD_API_TOKEN", UNKNOWN_TOKEN)
    code, out, err = cli("bridge", "list")
    assert (code, out) == (4, "")
    assert "authentication failed" in err
    assert UNKNOWN_TOKEN not in err
    code, _, err = cli(
        "--token", UNKNOWN_TOKEN, "bridge", "subscribe", "new-verdict", "--target", TARGET
    )
    assert code == 4
    assert UNKNOWN_TOKEN not in err


def test_a_malformed_token_is_exit_4_before_anything_is_sent(
    cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MXGUARD_API_TOKEN", "mxg_live_short")
    monkeypatch.setenv("MXGUARD_BRIDGE_URL", f"http://{LOOPBACK}:{free_port()}")
    code, out, err = cli("bridge", "list")
    assert (code, out) == (4, "")
    assert "malformed MxGuard token" in err
    assert "mxg_live_short" not in err


def test_without_a_token_the_same_message_as_me(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MXGUARD_API_TOKEN")
    code, out, err = cli("bridge", "list")
    assert (code, out) == (4, "")
    assert "MXGUARD_API_TOKEN" in err
    assert "--token" in err
    assert cli("me")[2] == err


@pytest.mark.parametrize(
    "command",
    [
        ["unsubscribe", "sub_0123456789abcdef01234567"],
        ["deliveries", "sub_0123456789abcdef01234567"],
        ["recover", "sub_0123456789abcdef01234567", "--since", "2027-01-15T08:00:00Z"],
    ],
)
def test_an_unknown_id_is_exit_5(cli: Cli, command: list[str]) -> None:
    code, out, err = cli("bridge", *command)
    assert (code, out) == (5, "")
    assert "not found: no subscription" in err


def test_another_customers_subscription_is_not_found(
    cli: Cli, running_bridge: RunningBridge, sandbox_token_admin: tuple[Any, Account]
) -> None:
    _, other = sandbox_token_admin
    created = cli.ok(
        "--token", other.token, "bridge", "subscribe", "new-verdict", "--target", TARGET
    )
    assert cli("bridge", "deliveries", created["id"])[0] == 5
    assert cli.ok("bridge", "list") == []
    cli.ok("--token", other.token, "bridge", "unsubscribe", created["id"])


@pytest.mark.parametrize(
    ("command", "says"),
    [
        (["unsubscribe", ".."], "'..' is not a subscription id"),
        (["deliveries", "sub_x/../../x"], "'sub_x/../../x' is not a subscription id"),
        (["unsubscribe", "sub_x/recover"], "is not a subscription id"),
        (["deliveries", "sub_x", "--limit", "101"], "limit"),
        (["recover", "sub_x", "--since", "yesterday"], "--since: not an RFC 3339 time"),
        (["recover", "sub_x", "--since", "2027-01-15T08:00:00"], "give a time zone"),
    ],
)
def test_bad_arguments_are_invalid_input(cli: Cli, command: list[str], says: str) -> None:
    code, out, err = cli("bridge", *command)
    assert (code, out) == (3, "")
    assert says in err


@pytest.mark.parametrize(
    ("command", "says"),
    [
        (["deliveries", "sub_x", "--limit", "0"], "0 is not in the range x>=1"),
        (["recover", "sub_x"], "Missing option '--since'"),
        (["subscribe", "new-verdict"], "Missing option '--target'"),
    ],
)
def test_usage_errors_are_exit_2(cli: Cli, command: list[str], says: str) -> None:
    code, out, err = cli("bridge", *command)
    assert (code, out) == (2, "")
    assert says in err


def test_no_bridge_running_says_how_to_start_one(cli: Cli) -> None:
    nowhere = f"http://{LOOPBACK}:{free_port()}"
    for command in (
        ["list"],
        ["subscribe", "new-verdict", "--target", TARGET],
        ["unsubscribe", "sub_x"],
        ["deliveries", "sub_x"],
        ["recover", "sub_x", "--since", "2027-01-15T08:00:00Z"],
    ):
        code, out, err = cli("bridge", "--bridge-url", nowhere, *command)
        assert (code, out) == (8, "")
        assert err == f"mxguard: no bridge at {nowhere}: start one with mxguard bridge serve\n"


@pytest.mark.parametrize(
    "url", ["ftp://127.0.0.1:8030", "127.0.0.1:8030", "http://me:pw@127.0.0.1", "http://h:port"]
)
def test_a_bridge_url_that_cannot_work_is_a_usage_error(cli: Cli, url: str) -> None:
    code, out, err = cli("bridge", "--bridge-url", url, "list")
    assert (code, out) == (2, "")
    assert "--bridge-url" in err
    assert "pw" not in err


# -- what a bridge in trouble (or not a bridge) answers ----------------------------------------


def error_body(kind: str, message: str) -> bytes:
    return json.dumps({"error": {"type": kind, "message": message, "param": None}}).encode()


@pytest.fixture
def stub() -> Iterator[tuple[str, list[tuple[int, bytes]]]]:
    """An HTTP server answering the scripted (status, body), as JSON, to any request."""
    script: list[tuple[int, bytes]] = []

    class Handler(BaseHTTPRequestHandler):
        def answer(self) -> None:
            status, body = script.pop(0)
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            self.answer()

        def do_POST(self) -> None:
            self.answer()

        def do_DELETE(self) -> None:
            self.answer()

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = ThreadingHTTPServer((LOOPBACK, 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://{LOOPBACK}:{server.server_address[1]}", script
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize(
    ("status", "body", "code", "says"),
    [
        (502, error_body("upstream_error", "MxGuard cannot be reached (timeout)"), 8, "HTTP 502"),
        (500, error_body("server_error", "internal error in the bridge"), 8, "internal error"),
        (503, error_body("upstream_rate_limited", "no requests left; retry in 9 s"), 7, "retry"),
        (409, error_body("conflict", "exists"), 6, "conflict: exists"),
        (404, b"<html>nothing here</html>", 8, "is it an MxGuard bridge?"),
        (200, b"<html>hello</html>", 8, "is it an MxGuard bridge?"),
    ],
)
def test_the_bridges_failures_and_strangers_get_their_exit_codes(
    cli: Cli,
    stub: tuple[str, list[tuple[int, bytes]]],
    status: int,
    body: bytes,
    code: int,
    says: str,
) -> None:
    url, script = stub
    script.append((status, body))
    got, out, err = cli("bridge", "--bridge-url", url, "list")
    assert (got, out) == (code, "")
    assert says in err


def test_a_message_echoing_the_token_is_scrubbed(
    cli: Cli, stub: tuple[str, list[tuple[int, bytes]]], account: Account
) -> None:
    url, script = stub
    script.append((422, error_body("invalid_request", f"bad: {account.token}")))
    code, _, err = cli("bridge", "--bridge-url", url, "list")
    assert code == 3
    assert account.token[:13] + "…" in err  # the redacted form only


# -- help --------------------------------------------------------------------------------------


def test_every_bridge_command_and_option_has_help(cli: Cli) -> None:
    group = bridge_cli.bridge
    assert all(isinstance(p, click.Option) and p.help for p in group.params)
    for name, command in group.commands.items():
        assert command.help, name
        assert command.short_help, name
        for param in command.params:
            if isinstance(param, click.Option):
                assert param.help, f"{name} {param.opts}"
        code, out, _ = cli("bridge", name, "--help")
        assert code == 0
        assert "Usage: mxguard bridge" in out
