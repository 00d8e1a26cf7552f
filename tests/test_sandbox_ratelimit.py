"""The documented rate limits: 60 requests a minute and 600 an hour per token."""

from __future__ import annotations

import time

from sandbox.ratelimit import SlidingWindowLimiter
from tests.support import SandboxAdmin


def test_the_61st_request_in_a_minute_is_429_with_retry_after(admin: SandboxAdmin) -> None:
    account = admin.new_account()
    remaining = []
    for _ in range(60):
        response = admin.public(account, "GET", "/me")
        assert response.status_code == 200
        remaining.append(int(response.headers["X-RateLimit-Remaining"]))
        assert response.headers["X-RateLimit-Limit"] == "60"
        assert int(response.headers["X-RateLimit-Reset"]) >= int(time.time())
    assert remaining == list(range(59, -1, -1))
    limited = admin.public(account, "GET", "/me")
    assert limited.status_code == 429
    assert 1 <= int(limited.headers["Retry-After"]) <= 60
    assert limited.json()["error"]["type"] == "rate_limited"
    assert limited.headers["X-RateLimit-Remaining"] == "0"
    assert "X-Request-Id" in limited.headers


def test_other_tokens_keep_their_own_budget(admin: SandboxAdmin) -> None:
    busy, quiet = admin.new_account(), admin.new_account()
    for _ in range(61):
        admin.public(busy, "GET", "/me")
    assert admin.public(busy, "GET", "/me").status_code == 429
    assert admin.public(quiet, "GET", "/me").status_code == 200


def test_rejected_requests_do_not_count() -> None:
    limiter = SlidingWindowLimiter(per_minute=2, per_hour=100)
    assert limiter.hit("t", 0.0).allowed
    assert limiter.hit("t", 1.0).allowed
    for second in range(2, 60):
        assert not limiter.hit("t", float(second)).allowed
    decision = limiter.hit("t", 60.5)
    assert decision.allowed
    assert decision.remaining == 0


def test_the_hour_window_binds_after_ten_full_minutes() -> None:
    limiter = SlidingWindowLimiter(per_minute=60, per_hour=600)
    now = 0.0
    for minute in range(10):
        for index in range(60):
            now = minute * 60 + index * 0.5
            assert limiter.hit("t", now).allowed
    blocked = limiter.hit("t", 600.0)
    assert not blocked.allowed
    assert blocked.limit == 600
    assert blocked.retry_after == 3600 - 600
    assert limiter.hit("t", 3600.01).allowed


def test_moving_the_clock_frees_the_minute_window(admin: SandboxAdmin) -> None:
    account = admin.new_account()
    for _ in range(60):
        admin.public(account, "GET", "/me")
    assert admin.public(account, "GET", "/me").status_code == 429
    admin.advance_clock(61)
    assert admin.public(account, "GET", "/me").status_code == 200
