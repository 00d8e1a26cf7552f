"""Armed faults: the next N matching requests fail the way a real network and server can."""

from __future__ import annotations

import json
import time

import pytest
import requests

from tests.support import Account, SandboxAdmin


def test_status_faults_hit_the_next_n_matching_requests(
    admin: SandboxAdmin, account: Account
) -> None:
    admin.fault(
        kind="status",
        status=503,
        count=2,
        path_prefix="/api/v1/verdicts",
        token_id=account.token_id,
    )
    assert admin.public(account, "GET", "/me").status_code == 200, "other paths are untouched"
    first = admin.public(account, "GET", "/verdicts")
    assert first.status_code == 503
    assert first.json()["error"]["type"] == "server_error"
    assert "X-RateLimit-Remaining" in first.headers
    assert admin.public(account, "GET", "/verdicts").status_code == 503
    assert admin.public(account, "GET", "/verdicts").status_code == 200


def test_a_429_fault_carries_retry_after(admin: SandboxAdmin, account: Account) -> None:
    admin.fault(kind="status", status=429, retry_after=7, token_id=account.token_id)
    response = admin.public(account, "GET", "/me")
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "7"


def test_faults_can_target_one_token_and_one_method(admin: SandboxAdmin) -> None:
    target, bystander = admin.new_account(), admin.new_account()
    admin.fault(kind="status", status=500, method="POST", token_id=target.token_id)
    body = {"domain": "x.example", "real_mx_host": "mx.x.example"}
    assert admin.public(bystander, "POST", "/domains", body).status_code == 201
    assert admin.public(target, "GET", "/domains").status_code == 200
    assert admin.public(target, "POST", "/domains", body).status_code == 500
    assert admin.public(target, "POST", "/domains", body).status_code == 201


def test_a_delay_fault_slows_the_answer(admin: SandboxAdmin, account: Account) -> None:
    admin.fault(kind="delay", delay_seconds=0.3, token_id=account.token_id)
    started = time.monotonic()
    response = admin.public(account, "GET", "/me")
    assert response.status_code == 200
    assert time.monotonic() - started >= 0.3
    admin.fault(kind="delay", delay_seconds=1.0, token_id=account.token_id)
    with pytest.raises(requests.Timeout):
        requests.get(
            f"{admin.base_url}/api/v1/me",
            headers={"Authorization": f"Bearer {account.token}"},
            timeout=0.2,
        )


def test_a_dropped_connection_breaks_the_response(admin: SandboxAdmin, account: Account) -> None:
    admin.fault(kind="drop", token_id=account.token_id)
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        admin.public(account, "GET", "/verdicts")
    assert admin.public(account, "GET", "/verdicts").status_code == 200


def test_a_malformed_body_is_not_json(admin: SandboxAdmin, account: Account) -> None:
    admin.fault(kind="malformed", token_id=account.token_id)
    response = admin.public(account, "GET", "/verdicts")
    assert response.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        json.loads(response.text)


def test_bad_fault_requests_are_refused(admin: SandboxAdmin) -> None:
    admin.call("POST", "/faults", {"kind": "status", "status": 418}, expect=422)
    admin.call("POST", "/faults", {"kind": "explode"}, expect=422)
