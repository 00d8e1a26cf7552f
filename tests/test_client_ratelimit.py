"""The client keeps each token under 60/min and 600/h by itself, shares that budget between
processes, follows the server's ``X-RateLimit-*`` headers, and shows what is left."""

from __future__ import annotations

import logging
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
import responses

from api_client import MxGuardClient, RateBudgetExhaustedError, Secret, TokenRateLimiter
from sandbox.server import SandboxServer
from tests.client_support import (
    API,
    ME,
    START,
    TOKEN,
    FakeTime,
    aligned_time,
    offline_client,
    sandbox_client,
)
from tests.support import SandboxAdmin

FINGERPRINT = Secret(TOKEN).fingerprint


@pytest.fixture
def mock() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        rsps.add("GET", f"{API}/me", json=ME)
        yield rsps


# -- the local limiter ------------------------------------------------------------------------


def test_the_minute_window_allows_60_then_names_the_wait() -> None:
    fake = FakeTime()
    limiter = TokenRateLimiter(FINGERPRINT, path=":memory:", clock=fake.clock)
    for index in range(60):
        fake.now = START + index * 0.5
        assert limiter.try_acquire() == 0
    assert limiter.remaining() == (0, 540)
    wait = limiter.try_acquire()
    assert wait == pytest.approx(START + 61 - fake.now, abs=0.01), "the oldest + 60 s + margin"
    fake.now += wait
    assert limiter.try_acquire() == 0
    limiter.close()


def test_the_hour_window_binds_after_ten_busy_minutes() -> None:
    fake = FakeTime()
    limiter = TokenRateLimiter(FINGERPRINT, path=":memory:", clock=fake.clock)
    sent = 0
    while sent < 600:
        wait = limiter.try_acquire()
        if wait:
            fake.sleep(wait)
        else:
            sent += 1
    assert fake.now - START < 610
    assert limiter.remaining()[1] == 0
    minute = limiter.try_acquire()
    assert minute == pytest.approx(61.001), "the minute window is full too, and checked first"
    fake.sleep(minute)
    assert limiter.remaining() == (60, 0)
    hour = limiter.try_acquire()
    assert hour == pytest.approx(START + 3601.001 - fake.now), "when the hour's first one ages out"
    fake.sleep(hour)
    assert limiter.try_acquire() == 0


def test_limits_are_configurable_and_checked() -> None:
    fake = FakeTime()
    limiter = TokenRateLimiter(
        FINGERPRINT, per_minute=2, per_hour=5, margin=0, path=":memory:", clock=fake.clock
    )
    assert [limiter.try_acquire() for _ in range(3)] == [0, 0, pytest.approx(60.001)]
    with pytest.raises(ValueError, match="per_minute < per_hour"):
        TokenRateLimiter(FINGERPRINT, per_minute=100, per_hour=50, path=":memory:")
    with pytest.raises(ValueError, match="fingerprint"):
        TokenRateLimiter("x'; DROP TABLE t; --", path=":memory:")


def test_two_limiters_on_one_file_share_the_budget(tmp_path: Path) -> None:
    db = tmp_path / "budget.sqlite"
    fake = FakeTime()
    first = TokenRateLimiter(FINGERPRINT, path=db, clock=fake.clock)
    second = TokenRateLimiter(FINGERPRINT, path=db, clock=fake.clock)
    other_token = TokenRateLimiter("0123456789abcdef", path=db, clock=fake.clock)
    assert [first.try_acquire() for _ in range(40)] == [0] * 40
    assert [second.try_acquire() for _ in range(20)] == [0] * 20
    assert second.try_acquire() > 60
    assert first.try_acquire() > 60
    assert other_token.try_acquire() == 0
    assert first.remaining() == second.remaining() == (0, 540)
    for limiter in (first, second, other_token):
        limiter.close()
    assert TOKEN not in db.read_bytes().decode("latin-1")


def test_another_process_spends_from_the_same_budget(tmp_path: Path) -> None:
    db = tmp_path / "budget.sqlite"
    parent = TokenRateLimiter(FINGERPRINT, path=db)
    assert [parent.try_acquire() for _ in range(45)] == [0] * 45
    child = textwrap.dedent(
        f"""
        from api_client import TokenRateLimiter
        limiter = TokenRateLimiter({FINGERPRINT!r}, path={str(db)!r})
        taken = 0
        while limiter.try_acquire() == 0:
            taken += 1
        print(taken)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", child], capture_output=True, text=True, check=True, timeout=30
    )
    assert done.stdout.strip() == "15"
    assert parent.try_acquire() > 0
    parent.close()


# -- the client -------------------------------------------------------------------------------


def test_the_client_waits_for_its_own_budget(mock: responses.RequestsMock) -> None:
    fake = FakeTime()
    with offline_client(fake, per_minute=3, per_hour=100) as client:
        for _ in range(7):
            client.me()
        assert len(mock.calls) == 7
        assert len(fake.slept) == 2
        assert all(60 < s <= 61.01 for s in fake.slept)
        budget = client.rate_budget
        assert (budget.minute_remaining, budget.hour_remaining) == (2, 93)
        assert (budget.per_minute, budget.per_hour) == (3, 100)


def test_the_client_raises_instead_of_waiting_too_long(mock: responses.RequestsMock) -> None:
    fake = FakeTime()
    with offline_client(fake, per_minute=2, per_hour=3) as client:
        for _ in range(3):
            client.me()
        with pytest.raises(RateBudgetExhaustedError) as caught:
            client.me()
        assert len(mock.calls) == 3, "nothing was sent"
        assert len(fake.slept) == 1
        assert caught.value.retry_after is not None
        assert caught.value.retry_after > 3000
        assert caught.value.status is None
        assert "max_rate_limit_wait=90 s" in str(caught.value)
        assert client.rate_budget.remaining == 0


def test_the_client_follows_the_servers_remaining_and_reset(
    mock: responses.RequestsMock,
) -> None:
    fake = FakeTime()
    headers = {
        "X-RateLimit-Limit": "60",
        "X-RateLimit-Remaining": "0",
        "X-RateLimit-Reset": str(int(START) + 25),
    }
    mock.replace("GET", f"{API}/me", json=ME, headers=headers)
    with offline_client(fake) as client:
        client.me()
        assert fake.slept == []
        budget = client.rate_budget
        assert budget.server_remaining == 0
        assert budget.server_limit == 60
        assert budget.server_reset is not None
        assert budget.server_reset.timestamp() == START + 25
        assert budget.remaining == 0
        assert budget.minute_remaining == 59
        client.me()
        assert fake.slept == [25.0], "waited for the reset before the second request"
        assert len(mock.calls) == 2


def test_a_far_reset_with_nothing_left_raises_before_sending(
    mock: responses.RequestsMock,
) -> None:
    fake = FakeTime()
    headers = {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(int(START) + 1200)}
    mock.replace("GET", f"{API}/me", json=ME, headers=headers)
    with offline_client(fake) as client:
        client.me()
        with pytest.raises(RateBudgetExhaustedError, match="server said no request is left"):
            client.me()
    assert len(mock.calls) == 1
    assert fake.slept == []


def test_server_headers_with_requests_left_do_not_slow_the_client(
    mock: responses.RequestsMock,
) -> None:
    fake = FakeTime()
    headers = {"X-RateLimit-Remaining": "5", "X-RateLimit-Reset": str(int(START) + 50)}
    mock.replace("GET", f"{API}/me", json=ME, headers=headers)
    with offline_client(fake) as client:
        for _ in range(5):
            client.me()
        assert client.rate_budget.server_remaining == 5
    assert fake.slept == []


# -- against the sandbox at its documented limits ---------------------------------------------


def test_a_burst_of_100_reads_never_meets_a_429(
    sandbox: SandboxServer, admin: SandboxAdmin, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="api_client")
    account = admin.new_account()
    time = aligned_time(admin)
    options = {"clock": time.clock, "sleep": time.sleep}
    with sandbox_client(sandbox, account, tmp_path / "rate.sqlite", **options) as client:
        for _ in range(100):
            client.me()
        budget = client.rate_budget
    served = admin.requests_served(account)
    assert served["total"] == 100, "one request per call: no 429 was ever retried"
    assert served["by_path"] == {"GET /api/v1/me": 100}
    statuses = [r.getMessage() for r in caplog.records if " -> " in r.getMessage()]
    assert len(statuses) == 100
    assert all(" -> 200 " in line for line in statuses)
    assert time.slept, "the client waited for the minute window instead of being refused"
    assert 60 <= sum(time.slept) <= 125
    assert budget.hour_remaining == 500
    assert account.token not in caplog.text


def test_the_client_yields_to_requests_it_did_not_send(
    sandbox: SandboxServer, admin: SandboxAdmin, tmp_path: Path
) -> None:
    """Another machine spent 55 of this token's minute; the headers tell the client to wait."""
    account = admin.new_account()
    time = aligned_time(admin)
    for _ in range(55):
        assert admin.public(account, "GET", "/me").status_code == 200
    options = {"clock": time.clock, "sleep": time.sleep}
    with sandbox_client(sandbox, account, tmp_path / "rate.sqlite", **options) as client:
        for _ in range(10):
            client.me()
        assert client.rate_budget.minute_remaining == 50
    assert admin.requests_served(account)["total"] == 65
    assert len(time.slept) == 1
    assert 55 < time.slept[0] <= 61


def test_a_client_constructed_with_defaults_shares_the_user_cache_file(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    with MxGuardClient(TOKEN, "https://mxguard.test") as client:
        assert client.rate_budget.minute_remaining == 60
    assert (tmp_path / "mxguard-connector" / "rate-limits.sqlite").exists()


def test_an_unwritable_cache_falls_back_to_a_private_budget(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))
    with MxGuardClient(TOKEN, "https://mxguard.test") as client:
        assert client.rate_budget.minute_remaining == 60
    assert "counting in memory" in caplog.text


def test_offline_client_defaults_are_private(mock: responses.RequestsMock) -> None:
    with offline_client(FakeTime()) as one, offline_client(FakeTime()) as two:
        one.me()
        assert one.rate_budget.minute_remaining == 59
        assert two.rate_budget.minute_remaining == 60
