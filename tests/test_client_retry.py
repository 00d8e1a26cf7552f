"""Retries: reads on transient failures with back-off, writes only when provably not processed,
429s after ``Retry-After``; first with ``responses``, then with faults armed in the sandbox."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path

import pytest
import requests
import responses
from urllib3.exceptions import MaxRetryError, NewConnectionError

from api_client import (
    APIConnectionError,
    APITimeoutError,
    MalformedResponseError,
    QuarantineStatus,
    RateLimitedError,
    RetryPolicy,
    ServerError,
)
from api_client.retry import equal_jitter, parse_retry_after
from sandbox.server import SandboxServer
from tests.client_support import (
    API,
    ME,
    START,
    FakeTime,
    error_body,
    offline_client,
    sandbox_client,
)
from tests.support import Account, SandboxAdmin

HELD = {
    "id": "q1",
    "verdict_id": "v1",
    "domain": "example.com",
    "sender": "a@b.example",
    "recipient": "c@example.com",
    "subject": "hi",
    "reason": "spam",
    "status": "released",
    "quarantined_at": "2026-11-23T18:55:12.123456Z",
    "expires_at": "2026-12-23T18:55:12.123456Z",
}
RELEASE = f"{API}/quarantine/q1/release"


@pytest.fixture
def mock() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        yield rsps


@pytest.fixture
def fake() -> FakeTime:
    return FakeTime()


def refused() -> requests.exceptions.ConnectionError:
    """What ``requests`` raises when nothing listens: the request never left."""
    reason = NewConnectionError(None, "Failed to establish a new connection: refused")  # type: ignore[arg-type]
    return requests.exceptions.ConnectionError(MaxRetryError(None, "/", reason))  # type: ignore[arg-type]


# -- reads ------------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [502, 503, 504])
def test_a_read_is_retried_on_gateway_errors_with_exponential_backoff(
    mock: responses.RequestsMock, fake: FakeTime, status: int
) -> None:
    for _ in range(3):
        mock.add("GET", f"{API}/me", status=status, json=error_body("server_error", "busy"))
    mock.add("GET", f"{API}/me", json=ME)
    with offline_client(fake) as client:
        assert client.me().name == "Acme"
    assert len(mock.calls) == 4
    assert fake.slept == [0.5, 1.0, 2.0]


def test_a_read_gives_up_after_max_retries(mock: responses.RequestsMock, fake: FakeTime) -> None:
    mock.add("GET", f"{API}/me", status=503, json=error_body("server_error", "down"))
    policy = RetryPolicy(max_retries=5, backoff_base=1.0, backoff_max=4.0)
    with offline_client(fake, retry=policy) as client, pytest.raises(ServerError) as caught:
        client.me()
    assert caught.value.status == 503
    assert len(mock.calls) == 6
    assert fake.slept == [1.0, 2.0, 4.0, 4.0, 4.0]


def test_a_500_is_not_retried(mock: responses.RequestsMock, fake: FakeTime) -> None:
    mock.add("GET", f"{API}/me", status=500, json=error_body("server_error", "bug"))
    with offline_client(fake) as client, pytest.raises(ServerError):
        client.me()
    assert len(mock.calls) == 1
    assert fake.slept == []


def test_a_503_with_retry_after_waits_at_least_that_long(
    mock: responses.RequestsMock, fake: FakeTime
) -> None:
    mock.add("GET", f"{API}/me", status=503, headers={"Retry-After": "5"})
    mock.add("GET", f"{API}/me", json=ME)
    with offline_client(fake) as client:
        client.me()
    assert fake.slept == [5.0]


@pytest.mark.parametrize(
    ("exc", "kind"),
    [
        (requests.exceptions.ConnectionError("Connection reset by peer"), APIConnectionError),
        (requests.exceptions.ChunkedEncodingError("IncompleteRead"), APIConnectionError),
        (requests.exceptions.ReadTimeout("read timed out"), APITimeoutError),
        (requests.exceptions.ConnectTimeout("connect timed out"), APITimeoutError),
        (refused(), APIConnectionError),
    ],
)
def test_a_read_is_retried_after_transport_failures(
    mock: responses.RequestsMock, fake: FakeTime, exc: Exception, kind: type[Exception]
) -> None:
    mock.add("GET", f"{API}/me", body=exc)
    mock.add("GET", f"{API}/me", json=ME)
    with offline_client(fake) as client:
        assert client.me().id == "cus_1"
    assert len(mock.calls) == 2
    assert fake.slept == [0.5]
    mock.replace("GET", f"{API}/me", body=exc)
    with offline_client(fake) as client, pytest.raises(kind):
        client.me()


def test_jitter_is_applied_to_every_backoff(mock: responses.RequestsMock, fake: FakeTime) -> None:
    mock.add("GET", f"{API}/me", status=502)
    mock.add("GET", f"{API}/me", status=502)
    mock.add("GET", f"{API}/me", json=ME)
    with offline_client(fake, jitter=lambda delay: delay / 10) as client:
        client.me()
    assert fake.slept == [0.05, 0.1]


def test_the_default_jitter_keeps_half_of_the_delay() -> None:
    samples = [equal_jitter(2.0) for _ in range(200)]
    assert all(1.0 <= s <= 2.0 for s in samples)
    assert len(set(samples)) > 100


# -- writes -----------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_a_write_is_never_resent_after_a_5xx(
    mock: responses.RequestsMock, fake: FakeTime, status: int
) -> None:
    mock.add("POST", RELEASE, status=status, json=error_body("server_error", "oops"))
    mock.add("POST", RELEASE, json=HELD)
    with offline_client(fake) as client, pytest.raises(ServerError):
        client.quarantine.release("q1")
    assert len(mock.calls) == 1
    assert fake.slept == []


@pytest.mark.parametrize(
    ("exc", "kind"),
    [
        (requests.exceptions.ConnectionError("Connection reset by peer"), APIConnectionError),
        (requests.exceptions.ChunkedEncodingError("IncompleteRead"), APIConnectionError),
        (requests.exceptions.ReadTimeout("read timed out"), APITimeoutError),
    ],
)
def test_a_write_is_never_resent_after_an_ambiguous_failure(
    mock: responses.RequestsMock, fake: FakeTime, exc: Exception, kind: type[APIConnectionError]
) -> None:
    mock.add("POST", RELEASE, body=exc)
    mock.add("POST", RELEASE, json=HELD)
    with offline_client(fake) as client, pytest.raises(kind) as caught:
        client.quarantine.release("q1")
    assert caught.value.sent is True
    assert len(mock.calls) == 1
    assert fake.slept == []


@pytest.mark.parametrize(
    "exc", [refused(), requests.exceptions.ConnectTimeout("connect timed out")]
)
def test_a_write_is_retried_when_it_never_left(
    mock: responses.RequestsMock, fake: FakeTime, exc: Exception
) -> None:
    mock.add("POST", RELEASE, body=exc)
    mock.add("POST", RELEASE, json=HELD)
    with offline_client(fake) as client:
        assert client.quarantine.release("q1").status is QuarantineStatus.released
    assert len(mock.calls) == 2
    assert fake.slept == [0.5]


def test_a_write_is_retried_after_a_429(mock: responses.RequestsMock, fake: FakeTime) -> None:
    mock.add("POST", RELEASE, status=429, headers={"Retry-After": "2"})
    mock.add("POST", RELEASE, json=HELD)
    with offline_client(fake) as client:
        client.quarantine.release("q1")
    assert len(mock.calls) == 2
    assert fake.slept == [2.0]


# -- 429 --------------------------------------------------------------------------------------


def test_retry_after_in_seconds(mock: responses.RequestsMock, fake: FakeTime) -> None:
    mock.add("GET", f"{API}/me", status=429, headers={"Retry-After": "17"})
    mock.add("GET", f"{API}/me", json=ME)
    with offline_client(fake) as client:
        client.me()
    assert fake.slept == [17.0]


def test_retry_after_as_an_http_date(mock: responses.RequestsMock, fake: FakeTime) -> None:
    when = format_datetime(datetime.fromtimestamp(START + 42, UTC), usegmt=True)
    mock.add("GET", f"{API}/me", status=429, headers={"Retry-After": when})
    mock.add("GET", f"{API}/me", json=ME)
    with offline_client(fake) as client:
        client.me()
    assert fake.slept == [42.0]


def test_a_429_storm_is_waited_out_then_given_up(
    mock: responses.RequestsMock, fake: FakeTime
) -> None:
    for _ in range(4):
        mock.add("GET", f"{API}/me", status=429, headers={"Retry-After": "10"})
    mock.add("GET", f"{API}/me", json=ME)
    with offline_client(fake) as client:
        client.me()
    assert fake.slept == [10.0] * 4
    mock.replace("GET", f"{API}/me", status=429, headers={"Retry-After": "10"})
    fake.slept.clear()
    policy = RetryPolicy(max_rate_limited_retries=3)
    with offline_client(fake, retry=policy) as client, pytest.raises(RateLimitedError) as caught:
        client.me()
    assert fake.slept == [10.0] * 3
    assert caught.value.retry_after == 10.0


def test_retry_after_beyond_the_max_wait_raises_without_sleeping(
    mock: responses.RequestsMock, fake: FakeTime
) -> None:
    mock.add(
        "GET",
        f"{API}/me",
        status=429,
        json=error_body("rate_limited", "slow down"),
        headers={"Retry-After": "1800", "X-Request-Id": "req_9"},
    )
    client = offline_client(fake, max_rate_limit_wait=60)
    with client, pytest.raises(RateLimitedError) as caught:
        client.me()
    assert fake.slept == []
    assert len(mock.calls) == 1
    error = caught.value
    assert (error.status, error.retry_after, error.request_id) == (429, 1800.0, "req_9")
    assert error.error_type == "rate_limited"


def test_a_429_without_retry_after_waits_for_the_reset(
    mock: responses.RequestsMock, fake: FakeTime
) -> None:
    reset = {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(int(START) + 30)}
    mock.add("GET", f"{API}/me", status=429, headers=reset)
    mock.add("GET", f"{API}/me", json=ME)
    with offline_client(fake) as client:
        client.me()
    assert fake.slept == [30.0]


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("120", 120.0),
        (" 3 ", 3.0),
        ("0", 0.0),
        ("-5", 0.0),
        ("1.5", 1.5),
        ("Fri, 15 Jan 2027 08:01:40 GMT", 100.0),
        ("Fri, 15 Jan 2027 08:01:40 -0000", 100.0),
        ("Fri, 15 Jan 2027 07:00:00 GMT", 0.0),
        ("soon", None),
        ("", None),
        (None, None),
    ],
)
def test_parse_retry_after(header: str | None, seconds: float | None) -> None:
    assert parse_retry_after(header, START) == seconds


# -- faults armed in the sandbox --------------------------------------------------------------


def _held(admin: SandboxAdmin, account: Account) -> str:
    admin.add_verdicts(account, [{"domain": "example.com", "verdict": "spam"}])
    found = admin.public(account, "GET", "/quarantine?status=held").json()["data"]
    return str(found[0]["id"])


def test_sandbox_503s_on_a_read_are_retried(
    sandbox: SandboxServer, admin: SandboxAdmin, account: Account, tmp_path: Path, fake: FakeTime
) -> None:
    before = admin.requests_served(account)["total"]
    admin.fault(kind="status", status=503, count=2, token_id=account.token_id)
    with sandbox_client(sandbox, account, tmp_path / "r", sleep=fake.sleep) as client:
        assert client.me().id == account.customer_id
    assert admin.requests_served(account)["total"] - before == 3
    assert len(fake.slept) == 2


def test_sandbox_503_on_a_write_is_not_resent(
    sandbox: SandboxServer, admin: SandboxAdmin, account: Account, tmp_path: Path, fake: FakeTime
) -> None:
    message = _held(admin, account)
    admin.fault(kind="status", status=503, method="POST", token_id=account.token_id)
    before = admin.requests_served(account)["total"]
    with sandbox_client(sandbox, account, tmp_path / "r", sleep=fake.sleep) as client:
        with pytest.raises(ServerError) as caught:
            client.quarantine.release(message)
        assert caught.value.request_id
        assert admin.requests_served(account)["total"] - before == 1
        assert client.quarantine.get(message).status is QuarantineStatus.held
    assert fake.slept == []


def test_sandbox_dropped_connection(
    sandbox: SandboxServer, admin: SandboxAdmin, account: Account, tmp_path: Path, fake: FakeTime
) -> None:
    message = _held(admin, account)
    with sandbox_client(sandbox, account, tmp_path / "r", sleep=fake.sleep) as client:
        admin.fault(kind="drop", method="GET", token_id=account.token_id)
        assert client.quarantine.get(message).id == message
        assert len(fake.slept) == 1
        admin.fault(kind="drop", method="POST", token_id=account.token_id)
        before = admin.requests_served(account)["total"]
        with pytest.raises(APIConnectionError) as caught:
            client.quarantine.release(message)
        assert caught.value.sent is True
        assert admin.requests_served(account)["total"] - before == 1
    assert len(fake.slept) == 1


def test_sandbox_malformed_body(
    sandbox: SandboxServer, admin: SandboxAdmin, account: Account, tmp_path: Path, fake: FakeTime
) -> None:
    admin.fault(kind="malformed", token_id=account.token_id)
    with sandbox_client(sandbox, account, tmp_path / "r", sleep=fake.sleep) as client:
        with pytest.raises(MalformedResponseError) as caught:
            list(client.verdicts.list())
        assert caught.value.status == 200
        assert caught.value.request_id is not None
        assert list(client.verdicts.list()) == []


def test_sandbox_429_is_waited_out_for_reads_and_writes(
    sandbox: SandboxServer, admin: SandboxAdmin, account: Account, tmp_path: Path, fake: FakeTime
) -> None:
    message = _held(admin, account)
    admin.fault(kind="status", status=429, retry_after=3, token_id=account.token_id)
    admin.fault(kind="status", status=429, retry_after=4, method="POST", token_id=account.token_id)
    with sandbox_client(sandbox, account, tmp_path / "r", sleep=fake.sleep) as client:
        assert client.me().id == account.customer_id
        assert client.quarantine.release(message).status is QuarantineStatus.released
    assert fake.slept == [3.0, 4.0]


def test_sandbox_slow_answers(
    sandbox: SandboxServer, admin: SandboxAdmin, account: Account, tmp_path: Path, fake: FakeTime
) -> None:
    """A read that times out is sent again; a write is not, though the server may have acted."""
    message = _held(admin, account)
    options = {"sleep": fake.sleep, "timeout": (2.0, 0.2)}
    with sandbox_client(sandbox, account, tmp_path / "r", **options) as client:
        admin.fault(kind="delay", delay_seconds=0.5, method="GET", token_id=account.token_id)
        assert client.quarantine.get(message).status is QuarantineStatus.held
        assert len(fake.slept) == 1
        admin.fault(kind="delay", delay_seconds=0.5, method="POST", token_id=account.token_id)
        with pytest.raises(APITimeoutError) as caught:
            client.quarantine.release(message)
        assert caught.value.sent is True
        assert len(fake.slept) == 1
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        status = admin.public(account, "GET", f"/quarantine/{message}").json()["status"]
        if status == "released":
            break
        time.sleep(0.05)
    assert status == "released", "the write the client gave up on did take effect"
