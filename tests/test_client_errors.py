"""The error tree: which status becomes which error, what each carries, and that none leaks the
token (str, repr, formatted traceback, logs), whatever path raised it."""

from __future__ import annotations

import pickle
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import requests
import responses

from api_client import (
    APIConnectionError,
    APIError,
    APITimeoutError,
    AuthenticationError,
    ConflictError,
    InvalidArgumentError,
    InvalidRequestError,
    InvalidTokenError,
    MalformedResponseError,
    MxGuardClient,
    MxGuardError,
    NotFoundError,
    RateBudgetExhaustedError,
    RateLimitedError,
    RetryPolicy,
    ServerError,
)
from api_client.errors import __doc__ as errors_doc
from sandbox.server import free_port
from tests.client_support import (
    API,
    TOKEN,
    FakeTime,
    assert_not_leaked,
    capture_everything,
    error_body,
    offline_client,
)


@pytest.fixture
def mock() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        yield rsps


def test_the_tree_is_drawn_in_the_module_docstring() -> None:
    assert errors_doc is not None
    for name in (
        "MxGuardError",
        "InvalidTokenError",
        "APIConnectionError",
        "APITimeoutError",
        "MalformedResponseError",
        "APIError",
        "InvalidRequestError",
        "InvalidArgumentError",
        "AuthenticationError",
        "NotFoundError",
        "ConflictError",
        "RateLimitedError",
        "RateBudgetExhaustedError",
        "ServerError",
    ):
        assert f"── {name}" in errors_doc or f"{name}  " in errors_doc
    assert issubclass(APITimeoutError, APIConnectionError)
    assert issubclass(RateBudgetExhaustedError, RateLimitedError)
    assert issubclass(InvalidArgumentError, InvalidRequestError)
    assert issubclass(InvalidArgumentError, ValueError)
    for leaf in (InvalidRequestError, AuthenticationError, NotFoundError, ConflictError):
        assert issubclass(leaf, APIError)
    for kind in (InvalidTokenError, APIConnectionError, MalformedResponseError, APIError):
        assert issubclass(kind, MxGuardError)


@pytest.mark.parametrize(
    ("status", "kind", "error_type"),
    [
        (400, InvalidRequestError, "invalid_request"),
        (401, AuthenticationError, "authentication_failed"),
        (403, APIError, "forbidden"),
        (404, NotFoundError, "not_found"),
        (409, ConflictError, "conflict"),
        (418, APIError, "teapot"),
        (422, InvalidRequestError, "invalid_request"),
        (429, RateLimitedError, "rate_limited"),
        (500, ServerError, "server_error"),
        (503, ServerError, "server_error"),
    ],
)
def test_statuses_map_to_errors_carrying_the_contract_fields(
    mock: responses.RequestsMock, status: int, kind: type[APIError], error_type: str
) -> None:
    mock.add(
        "POST",
        f"{API}/domains",
        status=status,
        json=error_body(error_type, "it went wrong", "real_mx_host"),
        headers={"X-Request-Id": "req_42", "Retry-After": "3600"},
    )
    with offline_client(FakeTime()) as client, pytest.raises(kind) as caught:
        client.domains.add(domain="a.example", real_mx_host="b.example")
    error = caught.value
    assert type(error) is kind
    assert error.status == status
    assert error.error_type == error_type
    assert error.message == "it went wrong"
    assert error.param == "real_mx_host"
    assert error.request_id == "req_42"
    assert (error.method, error.path) == ("POST", "/api/v1/domains")
    assert str(error) == (
        f"POST /api/v1/domains: it went wrong (HTTP {status}, {error_type}, "
        "param=real_mx_host, request_id=req_42)"
    )
    assert repr(error).startswith(f"{kind.__name__}(message='it went wrong', status={status}")
    assert len(mock.calls) == 1


def test_an_error_without_the_contract_body_still_says_what_happened(
    mock: responses.RequestsMock,
) -> None:
    html = "<html><body><h1>502 Bad Gateway</h1></body></html>"
    mock.add("POST", f"{API}/quarantine/q1/release", status=502, body=html)
    with offline_client(FakeTime()) as client, pytest.raises(ServerError) as caught:
        client.quarantine.release("q1")
    assert caught.value.status == 502
    assert caught.value.error_type is None
    assert caught.value.request_id is None
    assert "HTTP 502 Bad Gateway: <html>" in caught.value.message


def test_a_redirect_is_not_followed(mock: responses.RequestsMock) -> None:
    mock.add("GET", f"{API}/me", status=301, headers={"Location": "https://elsewhere.test/me"})
    with offline_client(FakeTime()) as client, pytest.raises(APIError) as caught:
        client.me()
    assert caught.value.status == 301
    assert "unexpected redirect to 'https://elsewhere.test/me'" in caught.value.message
    assert len(mock.calls) == 1


def test_a_body_that_is_not_json_is_malformed(mock: responses.RequestsMock) -> None:
    mock.add(
        "GET",
        f"{API}/me",
        body=b'{"id": "cus_',
        content_type="application/json",
        headers={"X-Request-Id": "req_bad"},
    )
    with offline_client(FakeTime()) as client, pytest.raises(MalformedResponseError) as caught:
        client.me()
    assert caught.value.status == 200
    assert caught.value.request_id == "req_bad"
    assert "not valid JSON" in str(caught.value)
    assert len(mock.calls) == 1


def test_json_that_breaks_the_contract_is_malformed(mock: responses.RequestsMock) -> None:
    mock.add("GET", f"{API}/verdicts/v1", json={"id": "v1", "score": "high"})
    with offline_client(FakeTime()) as client, pytest.raises(MalformedResponseError) as caught:
        client.verdicts.get("v1")
    assert "does not match the contract's Verdict" in caught.value.message
    assert "message_id: Field required" in caught.value.message


def test_errors_survive_pickling() -> None:
    error = RateLimitedError("slow down", status=429, retry_after=3.0, request_id="req_1")
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is RateLimitedError
    assert (copy.status, copy.retry_after, copy.request_id) == (429, 3.0, "req_1")
    assert str(copy) == str(error)
    dropped = pickle.loads(pickle.dumps(APIConnectionError("gone", sent=True)))
    assert dropped.sent is True
    refused = APIConnectionError("no", sent=False, host="h.example:8443", reason="refused")
    copy_of_refused = pickle.loads(pickle.dumps(refused))
    assert (copy_of_refused.host, copy_of_refused.reason) == ("h.example:8443", "refused")
    refused_arg = pickle.loads(pickle.dumps(InvalidArgumentError("bad", param="since")))
    assert type(refused_arg) is InvalidArgumentError
    assert refused_arg.param == "since"


# -- the token never leaks -------------------------------------------------------------------

Scenario = Callable[[responses.RequestsMock, MxGuardClient], object]
ECHO = f"your token {TOKEN} is no good"
"""A server (or proxy) that echoes the token back is the worst case for redaction."""


def _status(status: int, method: str = "GET") -> Scenario:
    def run(mock: responses.RequestsMock, client: MxGuardClient) -> object:
        headers = {"Retry-After": "7200", "X-Request-Id": "req_1"}
        mock.add(method, f"{API}/me", status=status, json=error_body("x", ECHO), headers=headers)
        mock.add(method, f"{API}/quarantine/q/release", status=status, json=error_body("x", ECHO))
        return client.me() if method == "GET" else client.quarantine.release("q")

    return run


def _raising(exc: Exception, method: str = "GET") -> Scenario:
    def run(mock: responses.RequestsMock, client: MxGuardClient) -> object:
        mock.add("GET", f"{API}/me", body=exc)
        mock.add("POST", f"{API}/quarantine/q/release", body=exc)
        return client.me() if method == "GET" else client.quarantine.release("q")

    return run


def _body(body: str) -> Scenario:
    def run(mock: responses.RequestsMock, client: MxGuardClient) -> object:
        mock.add("GET", f"{API}/me", body=body, content_type="application/json")
        return client.me()

    return run


def _budget(mock: responses.RequestsMock, client: MxGuardClient) -> object:
    exhausted = {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "9999999999"}
    mock.add("GET", f"{API}/stats", json=error_body("x", ECHO), status=404, headers=exhausted)
    with pytest.raises(NotFoundError):
        client.stats()
    return client.me()


SCENARIOS: dict[str, tuple[Scenario, type[MxGuardError]]] = {
    "401": (_status(401), AuthenticationError),
    "404": (_status(404), NotFoundError),
    "409 write": (_status(409, "POST"), ConflictError),
    "422": (_status(422), InvalidRequestError),
    "429 beyond the max wait": (_status(429), RateLimitedError),
    "500 write": (_status(500, "POST"), ServerError),
    "503 read, retries exhausted": (_status(503), ServerError),
    "connection reset": (
        _raising(requests.exceptions.ConnectionError(f"reset; {ECHO}")),
        APIConnectionError,
    ),
    "connection reset on a write": (
        _raising(requests.exceptions.ConnectionError(ECHO), "POST"),
        APIConnectionError,
    ),
    "read timeout": (_raising(requests.exceptions.ReadTimeout(ECHO)), APITimeoutError),
    "truncated body": (
        _raising(requests.exceptions.ChunkedEncodingError(ECHO)),
        APIConnectionError,
    ),
    "not JSON": (_body(f"<html>{ECHO}</html>"), MalformedResponseError),
    "not the contract": (_body(f'{{"id": "{TOKEN}"}}'), MalformedResponseError),
    "rate budget exhausted": (_budget, RateBudgetExhaustedError),
}


@pytest.mark.parametrize("name", SCENARIOS)
def test_no_error_path_shows_the_token(
    mock: responses.RequestsMock, caplog: pytest.LogCaptureFixture, name: str
) -> None:
    capture_everything(caplog)
    scenario, kind = SCENARIOS[name]
    fake = FakeTime()
    with offline_client(fake, retry=RetryPolicy(max_retries=1)) as client:
        with pytest.raises(kind) as caught:
            scenario(mock, client)
        assert_not_leaked(TOKEN, caught.value, caplog)
        assert TOKEN not in repr(client)
    # the echo is kept, redacted: in the message, or (a transport failure, whose message is one
    # line naming the host and the cause) in the detached cause a traceback shows
    seen = "".join(traceback.format_exception(caught.value))
    assert "mxg_test_S3cr…" in seen or kind in (
        RateBudgetExhaustedError,
        APITimeoutError,
        MalformedResponseError,
    )
    assert not any(
        isinstance(v, requests.Request | requests.PreparedRequest)
        for v in vars(caught.value).values()
    )
    assert mock.calls, "the scenario sent a request, with the token in its header"
    assert mock.calls[0].request.headers["Authorization"] == f"Bearer {TOKEN}"


def test_a_bad_token_error_shows_nothing_of_it(caplog: pytest.LogCaptureFixture) -> None:
    capture_everything(caplog)
    almost = TOKEN[:-1] + "!"
    with pytest.raises(InvalidTokenError) as caught:
        MxGuardClient(almost, "https://mxguard.test", rate_limit_db=":memory:")
    assert_not_leaked(almost, caught.value, caplog)


def test_a_refused_connection_shows_nothing_of_the_token(
    caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    capture_everything(caplog)
    fake = FakeTime()
    closed = f"http://127.0.0.1:{free_port()}"
    client = MxGuardClient(
        TOKEN, closed, rate_limit_db=tmp_path / "r.sqlite", clock=fake.clock, sleep=fake.sleep
    )
    with client, pytest.raises(APIConnectionError) as caught:
        client.quarantine.release("q")
    assert caught.value.sent is False
    assert "could not connect to 127.0.0.1:" in str(caught.value)
    assert_not_leaked(TOKEN, caught.value, caplog)
    assert len(fake.slept) == 3, "a refused connection is safe to retry, even for a write"
