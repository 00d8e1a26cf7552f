"""Arguments the API cannot take are refused before any request (``InvalidArgumentError``), and
the ones it can take are sent in its form: against the sandbox, counting what it served."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from api_client import (
    InvalidArgumentError,
    InvalidRequestError,
    MxGuardClient,
    MxGuardError,
    Stats,
)
from sandbox.server import SandboxServer
from tests.client_support import sandbox_client
from tests.support import Account, SandboxAdmin


@pytest.fixture
def client(sandbox: SandboxServer, account: Account, tmp_path: Path) -> Iterator[MxGuardClient]:
    with sandbox_client(sandbox, account, tmp_path / "rate.sqlite") as made:
        yield made


def _served(admin: SandboxAdmin, account: Account) -> int:
    total: int = admin.requests_served(account)["total"]
    return total


Call = Callable[[MxGuardClient, str], object]
PATH_ARGUMENTS: dict[str, Call] = {
    "domains.get": lambda c, v: c.domains.get(v),
    "domains.update": lambda c, v: c.domains.update(v, real_mx_host="mail.example.com"),
    "domains.remove": lambda c, v: c.domains.remove(v),
    "sender_rules.list": lambda c, v: list(c.sender_rules.list(v)),
    "sender_rules.page": lambda c, v: c.sender_rules.page(v),
    "sender_rules.add": lambda c, v: c.sender_rules.add(v, pattern="a.example", action="block"),
    "sender_rules.remove (domain)": lambda c, v: c.sender_rules.remove(v, "rule_1"),
    "sender_rules.remove (rule)": lambda c, v: c.sender_rules.remove("example.com", v),
    "verdicts.get": lambda c, v: c.verdicts.get(v),
    "quarantine.get": lambda c, v: c.quarantine.get(v),
    "quarantine.release": lambda c, v: c.quarantine.release(v),
    "quarantine.report_spam": lambda c, v: c.quarantine.report_spam(v),
}


@pytest.mark.parametrize("dots", [".", ".."])
@pytest.mark.parametrize("name", PATH_ARGUMENTS)
def test_dot_segments_are_refused_before_any_request(
    client: MxGuardClient, admin: SandboxAdmin, account: Account, name: str, dots: str
) -> None:
    before = _served(admin, account)
    with pytest.raises(InvalidArgumentError) as caught:
        PATH_ARGUMENTS[name](client, dots)
    assert isinstance(caught.value, ValueError)
    assert caught.value.status is None
    assert caught.value.param in ("domain", "rule_id", "verdict_id", "message_id")
    assert "would change the path" in str(caught.value)
    assert _served(admin, account) == before, "nothing was sent"


def test_the_reported_case_sends_nothing(
    client: MxGuardClient, admin: SandboxAdmin, account: Account
) -> None:
    """``remove("x.example", "..")`` used to send ``DELETE /api/v1/domains/x.example/``."""
    client.domains.add(domain="x.example", real_mx_host="mail.x.example")
    before = _served(admin, account)
    with pytest.raises(InvalidArgumentError, match=r"rule_id '\.\.'"):
        client.sender_rules.remove("x.example", "..")
    assert _served(admin, account) == before
    assert client.domains.get("x.example").domain == "x.example"


def test_ids_with_dots_that_are_not_dot_segments_still_go_through(
    client: MxGuardClient,
) -> None:
    for odd in ("...", ".x", "x.", "a..b"):
        with pytest.raises(MxGuardError) as caught:
            client.verdicts.get(odd)
        assert caught.value.status == 404, odd
        assert caught.value.path == f"/api/v1/verdicts/{odd}"


def test_a_time_before_year_1000_is_sent_with_four_digits(client: MxGuardClient) -> None:
    since = datetime(999, 6, 1, tzinfo=UTC)
    stats = client.stats(since=since, until=since + timedelta(days=1))
    assert isinstance(stats, Stats)
    assert stats.since == since
    assert stats.until == since + timedelta(days=1)
    shifted = datetime(999, 6, 1, 2, 30, tzinfo=timezone(timedelta(hours=2, minutes=30)))
    assert client.stats(since=shifted, until=since + timedelta(days=1)).since == since
    assert list(client.verdicts.list(since=since, until=since + timedelta(days=1))) == []


@pytest.mark.parametrize(
    "text",
    ["0999-06-01T00:00:00Z", "0999-06-01t00:00:00.5+00:00", "2016-12-31T23:59:60Z"],
)
def test_rfc3339_strings_the_api_takes_are_sent_as_given(client: MxGuardClient, text: str) -> None:
    client.stats(since=text)


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ("999-06-01T00:00:00Z", "not an RFC 3339 timestamp"),
        ("yesterday", "not an RFC 3339 timestamp"),
        ("2026-01-01T00:00:00", "not an RFC 3339 timestamp"),
        ("2026-01-01T00:00:00Z\n2027", "not an RFC 3339 timestamp"),
        ("0000-01-01T00:00:00Z", "not a valid time"),
        ("2026-02-30T00:00:00Z", "not a valid time"),
        ("2026-01-01T00:00:00+24:00", "not a valid time"),
        (datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=1))), "outside 0001-01-01..9999-12-31"),
        (
            datetime(9999, 12, 31, 23, tzinfo=timezone(timedelta(hours=-5))),
            "outside 0001-01-01..9999-12-31",
        ),
        (datetime(2026, 1, 1), "naive datetime"),
    ],
)
def test_times_the_api_cannot_take_are_refused_before_any_request(
    client: MxGuardClient, admin: SandboxAdmin, account: Account, value: Any, fragment: str
) -> None:
    before = _served(admin, account)
    for call in (
        lambda: client.stats(since=value),
        lambda: client.stats(until=value),
        lambda: client.verdicts.page(since=value),
        lambda: list(client.quarantine.list(until=value)),
        lambda: client.domains.page(since=value),
    ):
        with pytest.raises(InvalidArgumentError, match=fragment) as caught:
            call()
        assert caught.value.param in ("since", "until")
        assert isinstance(caught.value, InvalidRequestError | ValueError)
    assert _served(admin, account) == before


def test_a_huge_time_string_is_not_echoed_whole(
    client: MxGuardClient, admin: SandboxAdmin, account: Account
) -> None:
    huge = "2026-01-01T00:00:00Z" + "x" * 1_000_000
    with pytest.raises(InvalidArgumentError) as caught:
        client.stats(since=huge)
    assert len(str(caught.value)) < 300
    assert len(repr(caught.value)) < 400
    assert "(1000020 characters)" in str(caught.value)


def test_a_huge_id_is_not_echoed_whole(client: MxGuardClient) -> None:
    huge = "v" * 5000
    with pytest.raises(MxGuardError) as caught:
        client.verdicts.get(huge)
    assert caught.value.status == 404
    assert caught.value.path == f"/api/v1/verdicts/{huge}", "the attribute keeps it whole"
    assert len(str(caught.value)) < 500
    assert len(repr(caught.value)) < 600
