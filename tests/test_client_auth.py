"""Token checks before any request, the redacting ``Secret``, and client construction."""

from __future__ import annotations

import pickle
from collections.abc import Iterator

import pytest
import responses

from api_client import (
    DEFAULT_BASE_URL,
    InvalidTokenError,
    MxGuardClient,
    MxGuardError,
    Secret,
    check_token,
)
from api_client.config import package_version
from tests.client_support import API, BASE, ME, TOKEN, FakeTime, offline_client


@pytest.fixture
def mock() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        yield rsps


@pytest.fixture(autouse=True)
def no_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MXGUARD_API_TOKEN", raising=False)
    monkeypatch.delenv("MXGUARD_API_URL", raising=False)


@pytest.mark.parametrize(
    ("token", "problem"),
    [
        ("", "does not start with"),
        ("mxg_prod_" + "a" * 43, "does not start with"),
        ("MXG_LIVE_" + "a" * 43, "does not start with"),
        ("Bearer mxg_live_" + "a" * 43, "does not start with"),
        ("mxg_live_" + "a" * 42, "has 42 characters"),
        ("mxg_live_" + "a" * 44, "has 44 characters"),
        ("mxg_test_" + "a" * 20 + "!" + "a" * 22, "character 30 is not one of"),
        ("mxg_test_" + "a" * 20 + " " + "a" * 22, "character 30 is not one of"),
        ("mxg_live_" + "é" * 43, "character 10 is not one of"),
    ],
)
def test_malformed_tokens_fail_before_any_request(
    mock: responses.RequestsMock, token: str, problem: str
) -> None:
    mock.add("GET", f"{API}/me", json=ME)
    with pytest.raises(InvalidTokenError) as caught:
        MxGuardClient(token, BASE, rate_limit_db=":memory:")
    assert problem in str(caught.value)
    assert "mxg_live_' or 'mxg_test_' followed by 43 characters" in str(caught.value)
    if len(token) > 12:
        assert token[9:] not in str(caught.value)
    assert len(mock.calls) == 0
    assert isinstance(caught.value, MxGuardError)
    assert isinstance(caught.value, ValueError)


def test_well_formed_tokens_pass_and_surrounding_whitespace_is_dropped() -> None:
    assert check_token("mxg_live_" + "A-z_9" * 8 + "abc").reveal().startswith("mxg_live_")
    assert check_token(f"  {TOKEN}\n").reveal() == TOKEN


def test_a_missing_token_names_the_environment_variable() -> None:
    with pytest.raises(InvalidTokenError, match="MXGUARD_API_TOKEN"):
        MxGuardClient(base_url=BASE, rate_limit_db=":memory:")


def test_token_and_url_come_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, mock: responses.RequestsMock
) -> None:
    monkeypatch.setenv("MXGUARD_API_TOKEN", TOKEN)
    monkeypatch.setenv("MXGUARD_API_URL", BASE + "/api/v1/")
    mock.add("GET", f"{API}/me", json=ME)
    with MxGuardClient(rate_limit_db=":memory:") as client:
        assert client.base_url == BASE
        assert client.me().name == "Acme"
    assert mock.calls[0].request.headers["Authorization"] == f"Bearer {TOKEN}"


def test_a_malformed_token_in_the_environment_says_where_it_came_from(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MXGUARD_API_TOKEN", "mxg_live_short")
    with pytest.raises(InvalidTokenError, match=r"\$MXGUARD_API_TOKEN: it has 5 characters"):
        MxGuardClient(rate_limit_db=":memory:")


def test_the_default_base_url_is_the_public_api() -> None:
    with MxGuardClient(TOKEN, rate_limit_db=":memory:") as client:
        assert client.base_url == DEFAULT_BASE_URL == "https://app.mxguard.uk"


@pytest.mark.parametrize("url", ["ftp://mxguard.test", "mxguard.test", "https://"])
def test_a_base_url_that_is_not_http_is_refused(url: str) -> None:
    with pytest.raises(ValueError, match="http"):
        MxGuardClient(TOKEN, url, rate_limit_db=":memory:")


def test_every_request_names_the_bundle_and_carries_the_bearer_token(
    mock: responses.RequestsMock,
) -> None:
    mock.add("GET", f"{API}/me", json=ME)
    with offline_client(FakeTime()) as client:
        client.me()
    headers = mock.calls[0].request.headers
    assert headers["User-Agent"] == f"mxguard-connector/{package_version()}"
    assert package_version() != "0+unknown"
    assert headers["Authorization"] == f"Bearer {TOKEN}"
    assert headers["Accept"] == "application/json"


def test_secret_redacts_itself_everywhere() -> None:
    secret = Secret(TOKEN)
    assert secret.reveal() == TOKEN
    shown = [repr(secret), str(secret), f"{secret}", "%s" % secret, f"{secret!r}"]  # noqa: UP031
    for text in shown:
        assert TOKEN not in text
        assert "mxg_test_S3cr…" in text
    assert secret.scrub(f"x {TOKEN} y {TOKEN}") == "x mxg_test_S3cr… y mxg_test_S3cr…"
    assert secret == Secret(TOKEN)
    assert secret != Secret(TOKEN.replace("x", "y"))
    assert len(secret.fingerprint) == 16
    assert secret.fingerprint not in TOKEN
    with pytest.raises(TypeError):
        pickle.dumps(secret)
    assert Secret("short").redacted == "…"


def test_the_client_and_its_parts_do_not_show_the_token() -> None:
    with offline_client(FakeTime()) as client:
        assert repr(client) == f"MxGuardClient(base_url='{BASE}', token=Secret('mxg_test_S3cr…'))"
        for part in (client, client.token, client.domains, client.rate_budget, vars(client)):
            assert TOKEN not in repr(part)
            assert TOKEN not in str(part)
        assert client.token.reveal() == TOKEN


def test_a_secret_can_be_passed_instead_of_a_string(mock: responses.RequestsMock) -> None:
    mock.add("GET", f"{API}/me", json=ME)
    with MxGuardClient(Secret(TOKEN), BASE, rate_limit_db=":memory:") as client:
        assert client.me().token.prefix == "mxg_test_S3cr…"
    with pytest.raises(InvalidTokenError):
        MxGuardClient(Secret("nope"), BASE, rate_limit_db=":memory:")
