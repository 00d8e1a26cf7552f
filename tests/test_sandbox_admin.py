"""The rest of the simulation API: request counts, reset, the clock, a persistent database."""

from __future__ import annotations

from pathlib import Path

import requests

from sandbox.server import SandboxServer
from sandbox.settings import SandboxSettings
from tests.support import Account, SandboxAdmin


def test_requests_are_counted_per_token_and_route(admin: SandboxAdmin, account: Account) -> None:
    before = admin.requests_served(account)
    for _ in range(3):
        admin.public(account, "GET", "/verdicts?limit=5")
    admin.public(account, "GET", "/domains/example.com")
    admin.public(account, "GET", "/domains/missing.example")
    after = admin.requests_served(account)
    assert after["total"] - before["total"] == 5
    assert after["by_path"]["GET /api/v1/verdicts"] == 3
    assert after["by_path"]["GET /api/v1/domains/{domain}"] == 2


def test_answers_are_counted_per_token_and_status(admin: SandboxAdmin) -> None:
    """Refusals included: a client can be shown never to have made MxGuard answer 429."""
    account = admin.new_account()
    per_minute = admin.public(account, "GET", "/me").headers["X-RateLimit-Limit"]
    admin.public(account, "GET", "/domains/missing.example")
    answers = [admin.public(account, "GET", "/me").status_code for _ in range(int(per_minute))]
    served = admin.requests_served(account)
    assert served["by_status"] == {
        "200": 1 + answers.count(200),
        "404": 1,
        "429": answers.count(429),
    }
    assert answers.count(429) >= 1
    assert sum(served["by_status"].values()) == served["total"]


def test_reset_returns_to_the_seeded_start(tmp_path: Path) -> None:
    settings = SandboxSettings(seed="empty")
    with SandboxServer(settings) as server:
        admin = SandboxAdmin(server)
        first = Account("", "", settings.token)
        admin.public(
            first, "POST", "/domains", {"domain": "a.example", "real_mx_host": "m.a.example"}
        )
        other = admin.new_account()
        admin.call("POST", "/reset")
        assert admin.call("GET", "/requests")["total"] == 0
        assert admin.public(first, "GET", "/domains").json()["data"] == []
        assert admin.public(other, "GET", "/me").status_code == 401


def test_a_database_file_survives_a_restart(tmp_path: Path) -> None:
    settings = SandboxSettings(db_path=str(tmp_path / "sandbox.sqlite"), seed="empty")
    account = Account("", "", settings.token)
    with SandboxServer(settings) as server:
        body = {"domain": "kept.example", "real_mx_host": "mx.kept.example"}
        assert SandboxAdmin(server).public(account, "POST", "/domains", body).status_code == 201
    with SandboxServer(settings) as server:
        kept = SandboxAdmin(server).public(account, "GET", "/domains/kept.example")
        assert kept.status_code == 200


def test_the_clock_only_moves_forward(admin: SandboxAdmin) -> None:
    before = admin.now()
    after = admin.advance_clock(5)
    assert after > before
    admin.call("POST", "/clock", {"advance_seconds": -1}, expect=422)


def test_unknown_paths_get_the_contract_error(sandbox: SandboxServer, account: Account) -> None:
    response = requests.get(
        f"{sandbox.base_url}/api/v1/nothing-here",
        headers={"Authorization": f"Bearer {account.token}"},
        timeout=5,
    )
    assert response.status_code == 404
    assert response.json()["error"]["type"] == "not_found"
    wrong_method = requests.put(
        f"{sandbox.base_url}/api/v1/domains/example.com",
        headers={"Authorization": f"Bearer {account.token}"},
        timeout=5,
    )
    assert wrong_method.status_code == 405
    assert wrong_method.headers["Allow"] == "DELETE, GET, PATCH"
