"""Authentication and isolation between customers, over real HTTP."""

from __future__ import annotations

import http.client
import json
from typing import Any

import requests

from sandbox.server import SandboxServer
from sandbox.tokens import looks_like_token
from tests.support import Account, SandboxAdmin


def _get(sandbox: SandboxServer, path: str, authorization: str | None) -> requests.Response:
    headers = {"Authorization": authorization} if authorization is not None else {}
    return requests.get(f"{sandbox.base_url}/api/v1{path}", headers=headers, timeout=10)


def _assert_401(response: requests.Response, fragment: str) -> None:
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"
    error = response.json()["error"]
    assert error["type"] == "authentication_failed"
    assert fragment in error["message"]
    for header in ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset"):
        assert header in response.headers


def test_missing_header_is_401(sandbox: SandboxServer) -> None:
    _assert_401(_get(sandbox, "/me", None), "missing Authorization header")


def test_wrong_scheme_is_401(sandbox: SandboxServer, account: Account) -> None:
    _assert_401(_get(sandbox, "/me", f"Token {account.token}"), "Bearer <token>")


def test_malformed_token_is_401(sandbox: SandboxServer) -> None:
    _assert_401(_get(sandbox, "/me", "Bearer mxg_test_short"), "malformed token")
    _assert_401(_get(sandbox, "/me", "Bearer xyz_test_" + "a" * 43), "malformed token")


def test_unknown_token_is_401(sandbox: SandboxServer) -> None:
    _assert_401(_get(sandbox, "/me", "Bearer mxg_test_" + "A" * 43), "unknown or has been revoked")


def test_revoked_token_is_401(sandbox: SandboxServer, admin: SandboxAdmin) -> None:
    account = admin.new_account()
    assert _get(sandbox, "/me", f"Bearer {account.token}").status_code == 200
    admin.call("DELETE", f"/tokens/{account.token_id}", expect=204)
    _assert_401(_get(sandbox, "/me", f"Bearer {account.token}"), "revoked")
    admin.call("DELETE", f"/tokens/{account.token_id}", expect=404)


def test_tokens_are_stored_hashed(sandbox: SandboxServer, account: Account) -> None:
    store = sandbox.app.state.sandbox.store
    rows = store._all("SELECT hash, prefix FROM tokens")
    assert all(account.token not in row.values() for row in rows)
    assert any(row["prefix"] == account.token[:13] for row in rows)


def test_two_tokens_of_one_customer_see_the_same_objects(admin: SandboxAdmin) -> None:
    first = admin.new_account(domains=("shared.example",))
    issued = admin.call("POST", "/tokens", {"customer_id": first.customer_id})
    second = Account(first.customer_id, issued["id"], issued["token"])
    assert admin.public(second, "GET", "/domains/shared.example").status_code == 200


def test_another_customers_objects_are_404_not_403(admin: SandboxAdmin) -> None:
    owner = admin.new_account(domains=("private.example",))
    stranger = admin.new_account(domains=("other.example",))
    admin.add_verdicts(owner, [{"domain": "private.example", "verdict": "spam"}])
    held = admin.public(owner, "GET", "/quarantine").json()["data"][0]
    verdict_id = held["verdict_id"]
    for method, path in (
        ("GET", "/domains/private.example"),
        ("PATCH", "/domains/private.example"),
        ("DELETE", "/domains/private.example"),
        ("GET", "/domains/private.example/sender-rules"),
        ("GET", f"/verdicts/{verdict_id}"),
        ("GET", f"/quarantine/{held['id']}"),
        ("POST", f"/quarantine/{held['id']}/release"),
        ("POST", f"/quarantine/{held['id']}/report-spam"),
    ):
        body = {"real_mx_host": "mail.evil.example"} if method == "PATCH" else None
        response = admin.public(stranger, method, path, body)
        assert response.status_code == 404, (method, path, response.text)
        assert response.json()["error"]["type"] == "not_found"
    assert admin.public(stranger, "GET", "/verdicts").json()["data"] == []
    assert admin.public(stranger, "GET", "/quarantine").json()["data"] == []
    assert admin.public(owner, "GET", f"/quarantine/{held['id']}").json()["status"] == "held"


def test_simulation_api_needs_the_admin_token(sandbox: SandboxServer, account: Account) -> None:
    for headers in ({}, {"Authorization": f"Bearer {account.token}"}):
        response = requests.get(f"{sandbox.base_url}/_sandbox/requests", headers=headers, timeout=5)
        assert response.status_code == 401
    spec = requests.get(f"{sandbox.base_url}/api/v1/openapi.json", timeout=5).json()
    assert not any(path.startswith("/_sandbox") for path in spec["paths"])


def _raw_get(
    sandbox: SandboxServer, path: str, authorizations: list[str]
) -> tuple[int, dict[str, Any]]:
    """A GET with the given ``Authorization`` headers, several if asked (``requests`` cannot)."""
    connection = http.client.HTTPConnection(sandbox.host, sandbox.port, timeout=10)
    try:
        connection.putrequest("GET", f"/api/v1{path}")
        for value in authorizations:
            connection.putheader("Authorization", value)
        connection.endheaders()
        response = connection.getresponse()
        headers = {name.lower(): value for name, value in response.getheaders()}
        body = json.loads(response.read())
    finally:
        connection.close()
    return response.status, {"headers": headers, "body": body}


def test_two_authorization_headers_are_refused(sandbox: SandboxServer, admin: SandboxAdmin) -> None:
    """Which one would count depends on who reads it: neither does."""
    owner, other = admin.new_account(), admin.new_account()
    for pair in (
        [f"Bearer {other.token}", f"Bearer {owner.token}"],
        [f"Bearer {owner.token}", f"Bearer {other.token}"],
        [f"Bearer {owner.token}", f"Bearer {owner.token}"],
        ["Bearer mxg_test_short", f"Bearer {owner.token}"],
    ):
        status, answer = _raw_get(sandbox, "/me", pair)
        assert status == 401
        assert answer["headers"]["www-authenticate"] == "Bearer"
        assert answer["body"] == {
            "error": {
                "type": "authentication_failed",
                "message": "more than one Authorization header; send exactly one",
                "param": None,
            }
        }
    status, answer = _raw_get(sandbox, "/me", [f"Bearer {owner.token}"])
    assert status == 200
    assert answer["body"]["id"] == owner.customer_id


def test_a_token_must_match_whole() -> None:
    token = "mxg_test_" + "a" * 43
    assert looks_like_token(token)
    for near in (token + "\n", token + "\r\n", "\n" + token, token + "a", token[:-1]):
        assert not looks_like_token(near), repr(near)
