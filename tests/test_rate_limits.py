"""The token's limits are not hard-coded: explicit settings (client arguments,
``$MXGUARD_RATE_LIMITS``, ``mxguard --rate-limits``) and what the server shows, and a trigger's
budget (``--budget``) in the same notation. Bad values are refused before any request."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from api_client import InvalidArgumentError, MxGuardClient
from api_client.config import RATE_LIMITS_ENV, parse_rate_limits
from connector.cli import invoke
from connector.cli.poll import Rate
from connector.polling import make_poller
from sandbox.server import SandboxServer
from sandbox.settings import SandboxSettings
from tests.client_support import aligned_time
from tests.support import SandboxAdmin
from triggers import MemoryCursorStore
from triggers.poller import default_budget
from triggers.polling.new_verdict import TRIGGER as NEW_VERDICT
from triggers.polling.new_verdict import VerdictFilters

TOKEN = "mxg_test_" + "R" * 43


@pytest.fixture
def tight_sandbox() -> Iterator[SandboxServer]:
    """A sandbox whose token may make 60 requests a minute and only 100 an hour."""
    with SandboxServer(SandboxSettings(seed="demo", rate_per_minute=60, rate_per_hour=100)) as s:
        yield s


@pytest.mark.parametrize(
    ("text", "limits"),
    [
        ("120/min,6000/h", (120, 6000)),
        (" 6000 / hour ", (None, 6000)),
        ("90/minute", (90, None)),
    ],
)
def test_rate_limits_are_written_as_the_api_documents_them(
    text: str, limits: tuple[int | None, int | None]
) -> None:
    assert parse_rate_limits(text) == limits


@pytest.mark.parametrize("text", ["", "120", "120/day", "0/min", "-5/h", "1e3/h", "120/min,"])
def test_a_rate_limit_that_is_not_a_rate_is_refused_with_its_name(text: str) -> None:
    with pytest.raises(InvalidArgumentError, match=f"{RATE_LIMITS_ENV}: .* is not a rate"):
        parse_rate_limits(text)


def test_the_client_takes_its_limits_from_arguments_then_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(RATE_LIMITS_ENV, "120/min,6000/h")
    with MxGuardClient(TOKEN, "http://127.0.0.1:9", rate_limit_db=":memory:") as client:
        assert (client.rate_budget.per_minute, client.rate_budget.per_hour) == (120, 6000)
        assert default_budget(client.rate_budget.hourly_limit) == 5000
    with MxGuardClient(
        TOKEN, "http://127.0.0.1:9", per_hour=900, rate_limit_db=":memory:"
    ) as client:
        assert (client.rate_budget.per_minute, client.rate_budget.per_hour) == (120, 900)


def test_a_bad_limit_in_the_environment_stops_the_client_before_any_request(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(RATE_LIMITS_ENV, "lots")
    with pytest.raises(InvalidArgumentError, match=RATE_LIMITS_ENV):
        MxGuardClient(TOKEN, "http://127.0.0.1:9", rate_limit_db=":memory:")


def test_limits_that_contradict_each_other_are_refused() -> None:
    with pytest.raises(InvalidArgumentError, match="is not below"):
        MxGuardClient(TOKEN, "http://127.0.0.1:9", per_minute=600, per_hour=600)


def test_the_client_learns_the_hourly_limit_when_the_hour_binds(
    tight_sandbox: SandboxServer, tmp_path: Path
) -> None:
    admin = SandboxAdmin(tight_sandbox)
    account = admin.new_account(domains=("example.com",))
    time = aligned_time(admin)
    client = MxGuardClient(
        account.token,
        tight_sandbox.base_url,
        rate_limit_db=":memory:",
        clock=time.clock,
        sleep=time.sleep,
    )
    with client:
        for _ in range(50):
            client.me()
        assert client.rate_budget.hourly_limit == 600, "the minute's window bound so far"
        time.sleep(61)  # the minute's window is empty again: the hour's (50 of 100) binds
        client.me()
        assert client.rate_budget.server_limit == 100
        assert client.rate_budget.hourly_limit == 100
        poller = make_poller(NEW_VERDICT, client, VerdictFilters(), MemoryCursorStore(), key="k")
        assert poller.budget == pytest.approx(100 * 5 / 6)


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["poll", "new-verdict", "--budget", "12/x"], "'12/x' is not a rate"),
        (["poll", "new-verdict", "--budget", "0/h"], "'0/h' is not a rate"),
        (["--rate-limits", "5/day", "list"], "'5/day' is not a rate"),
    ],
)
def test_the_command_line_refuses_a_bad_rate_before_any_request(
    args: list[str], says: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert invoke(args) == 2
    assert says in capsys.readouterr().err


@pytest.mark.parametrize(("text", "per_hour"), [("200/h", 200), ("5/min", 300), ("1/hour", 1)])
def test_a_budget_is_requests_an_hour_however_written(text: str, per_hour: float) -> None:
    assert Rate().convert(text, None, None) == per_hour
