"""Domains, sender rules, quarantine transitions and stats, over real HTTP."""

from __future__ import annotations

import pytest

from tests.support import Account, SandboxAdmin


def test_domain_lifecycle(admin: SandboxAdmin, account: Account) -> None:
    unicode = admin.public(
        account, "POST", "/domains", {"domain": "bücher.example", "real_mx_host": "mail.b.example"}
    )
    assert unicode.status_code == 422
    assert "punycode" in unicode.json()["error"]["message"]
    created = admin.public(
        account,
        "POST",
        "/domains",
        {"domain": "XN--Bcher-kva.Example", "real_mx_host": "mail.b.example"},
    )
    assert created.status_code == 201
    domain = created.json()
    assert domain["domain"] == "xn--bcher-kva.example"
    assert domain["status"] == "pending"
    assert domain["mx_records"][0]["host"].endswith("mxguard.uk")
    again = admin.public(
        account,
        "POST",
        "/domains",
        {"domain": "xn--bcher-kva.example", "real_mx_host": "x.example"},
    )
    assert again.status_code == 409
    assert again.json()["error"] == {
        "type": "conflict",
        "message": "the domain xn--bcher-kva.example already exists",
        "param": "domain",
    }
    assert (
        admin.public(account, "GET", "/domains/xn--bcher-KVA.example").json()["id"] == domain["id"]
    )
    updated = admin.public(
        account, "PATCH", "/domains/xn--bcher-kva.example", {"real_mx_host": "mail2.b.example"}
    ).json()
    assert updated["real_mx_host"] == "mail2.b.example"
    assert updated["updated_at"] > updated["created_at"]
    names = [d["domain"] for d in admin.public(account, "GET", "/domains").json()["data"]]
    assert names == ["xn--bcher-kva.example", "example.com"]
    assert admin.public(account, "DELETE", "/domains/xn--bcher-kva.example").status_code == 204
    assert admin.public(account, "GET", "/domains/xn--bcher-kva.example").status_code == 404


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"domain": "no-dot", "real_mx_host": "mail.example.com"}, "domain"),
        ({"domain": "-bad-.example", "real_mx_host": "mail.example.com"}, "domain"),
        ({"domain": "a" * 64 + ".example", "real_mx_host": "mail.example.com"}, "domain"),
        ({"domain": "ok.example", "real_mx_host": "not a host"}, "real_mx_host"),
        ({"domain": "ok.example"}, "real_mx_host"),
        ({"domain": "ok.example", "real_mx_host": "m.example", "extra": 1}, "extra"),
    ],
)
def test_bad_domains_are_422_naming_the_field(
    admin: SandboxAdmin, account: Account, body: dict[str, object], param: str
) -> None:
    response = admin.public(account, "POST", "/domains", body)
    assert response.status_code == 422
    assert response.json()["error"]["param"] == param


def test_sender_rules(admin: SandboxAdmin, account: Account) -> None:
    path = "/domains/example.com/sender-rules"
    rule = admin.public(account, "POST", path, {"pattern": "*@Spam.Example", "action": "block"})
    assert rule.status_code == 201
    assert rule.json()["pattern"] == "*@spam.example"
    duplicate = admin.public(
        account, "POST", path, {"pattern": "*@spam.example", "action": "allow"}
    )
    assert duplicate.status_code == 409
    for pattern in ("friend@partner.example", "partner.example"):
        assert admin.public(account, "POST", path, {"pattern": pattern, "action": "allow"}).ok
    bad = admin.public(account, "POST", path, {"pattern": "a b@x", "action": "allow"})
    assert bad.status_code == 422
    assert bad.json()["error"]["param"] == "pattern"
    assert (
        admin.public(account, "POST", path, {"pattern": "x.example", "action": "maybe"}).status_code
        == 422
    )
    listed = admin.public(account, "GET", path).json()["data"]
    assert len(listed) == 3
    rule_id = rule.json()["id"]
    assert admin.public(account, "DELETE", f"{path}/{rule_id}").status_code == 204
    assert admin.public(account, "DELETE", f"{path}/{rule_id}").status_code == 404


def test_quarantine_release_and_report(admin: SandboxAdmin, account: Account) -> None:
    admin.add_verdicts(
        account,
        [
            {"domain": "example.com", "verdict": "spam"},
            {"domain": "example.com", "verdict": "phishing"},
        ],
    )
    first, second = admin.public(account, "GET", "/quarantine?order=asc").json()["data"]
    assert first["status"] == "held"
    released = admin.public(account, "POST", f"/quarantine/{first['id']}/release").json()
    assert released["status"] == "released"
    assert released["released_at"] is not None
    again = admin.public(account, "POST", f"/quarantine/{first['id']}/release")
    assert again.status_code == 409
    assert "already released" in again.json()["error"]["message"]
    reported = admin.public(account, "POST", f"/quarantine/{first['id']}/report-spam").json()
    assert reported["status"] == "reported"
    assert admin.public(account, "POST", f"/quarantine/{second['id']}/report-spam").ok
    assert admin.public(account, "POST", f"/quarantine/{second['id']}/release").status_code == 409
    held = admin.public(account, "GET", "/quarantine?status=held").json()["data"]
    assert held == []
    statuses = admin.public(account, "GET", "/quarantine?status=reported").json()["data"]
    assert {m["id"] for m in statuses} == {first["id"], second["id"]}


def test_held_messages_expire_after_thirty_days(admin: SandboxAdmin, account: Account) -> None:
    admin.add_verdicts(
        account,
        [{"domain": "example.com", "verdict": "spam", "scanned_at": "2020-01-01T00:00:00Z"}],
    )
    message = admin.public(account, "GET", "/quarantine").json()["data"][0]
    assert message["status"] == "expired"
    assert message["expires_at"] == "2020-01-31T00:00:00.000000Z"
    assert admin.public(account, "POST", f"/quarantine/{message['id']}/release").status_code == 409


def test_stats_agree_with_the_verdicts(admin: SandboxAdmin, account: Account) -> None:
    admin.traffic(account, 300, spread_seconds=3600, seed=11)
    stats = admin.public(account, "GET", "/stats").json()
    verdicts = []
    cursor = ""
    while True:
        page = admin.public(account, "GET", f"/verdicts?limit=500{cursor}").json()
        verdicts += page["data"]
        if not page["has_more"]:
            break
        cursor = f"&cursor={page['next_cursor']}"
    assert stats["messages_scanned"] == len(verdicts) == 300
    assert sum(stats["by_verdict"].values()) == 300
    quarantined = sum(v["action"] == "quarantined" for v in verdicts)
    assert stats["quarantined"] == quarantined == stats["quarantine_held"]
    assert stats["quarantine_rate"] == pytest.approx(quarantined / 300, abs=1e-6)
    assert stats["domains"] == 1


def test_demo_account_is_realistic(sandbox_token_admin: tuple[SandboxAdmin, Account]) -> None:
    admin, demo = sandbox_token_admin
    stats = admin.public(demo, "GET", "/stats?since=2000-01-01T00:00:00Z").json()
    assert stats["messages_scanned"] >= 3000
    shares = {k: v / stats["messages_scanned"] for k, v in stats["by_verdict"].items()}
    assert shares["clean"] > 0.75
    assert 0.05 < shares["spam"] < 0.2
    assert 0 < shares["phishing"] < 0.05
    assert 0 < shares["malware"] < 0.03
    assert stats["domains"] >= 3
    domain = admin.public(demo, "GET", "/domains").json()["data"][0]["domain"]
    rules = admin.public(demo, "GET", f"/domains/{domain}/sender-rules").json()["data"]
    assert {r["action"] for r in rules} <= {"allow", "block"}


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/domains/example.com/"),
        ("DELETE", "/domains/example.com/"),
        ("PATCH", "/domains/example.com/"),
        ("GET", "/domains/"),
        ("GET", "/me/"),
        ("GET", "/domains/example.com/sender-rules/"),
        ("DELETE", "/domains/example.com/sender-rules/rule_1/"),
        ("POST", "/quarantine/q_1/release/"),
    ],
)
def test_a_trailing_slash_is_a_404_in_the_contracts_shape(
    admin: SandboxAdmin, account: Account, method: str, path: str
) -> None:
    body = {"real_mx_host": "mail.example.com"} if method == "PATCH" else None
    answer = admin.public(account, method, path, body)
    assert answer.status_code == 404, answer.headers.get("location")
    assert "location" not in answer.headers
    assert answer.headers["content-type"] == "application/json"
    assert answer.json() == {
        "error": {
            "type": "not_found",
            "message": "no such endpoint (paths of the API do not end in '/')",
            "param": None,
        }
    }
    assert "X-Request-Id" in answer.headers
    assert admin.public(account, "GET", "/domains/example.com").status_code == 200, "untouched"


@pytest.mark.parametrize(
    ("method", "path", "param"),
    [
        ("GET", "/verdicts/" + "v" * 5000, "verdict_id"),
        ("GET", "/quarantine/" + "q" * 5000, "message_id"),
        ("POST", "/quarantine/" + "q" * 5000 + "/release", "message_id"),
        ("DELETE", "/domains/example.com/sender-rules/" + "r" * 5000, "rule_id"),
        ("GET", "/verdicts?since=" + "2026" * 1250, "since"),
        ("GET", "/stats?until=" + "2026" * 1250, "until"),
    ],
)
def test_error_messages_quote_a_long_value_in_part(
    admin: SandboxAdmin, account: Account, method: str, path: str, param: str
) -> None:
    answer = admin.public(account, method, path)
    assert answer.status_code in (400, 404)
    error = answer.json()["error"]
    assert error["param"] == param
    assert len(error["message"]) < 200
    assert "(5000 characters)" in error["message"]


def test_a_long_value_that_breaks_a_pattern_is_quoted_in_part(
    admin: SandboxAdmin, account: Account
) -> None:
    long_and_wrong = "a_" * 120 + ".example"  # within max_length (253), not a host name
    answer = admin.public(
        account, "POST", "/domains", {"domain": long_and_wrong, "real_mx_host": "m.example"}
    )
    assert answer.status_code == 422
    error = answer.json()["error"]
    assert error["param"] == "domain"
    assert "is not a valid host name" in error["message"]
    assert "(248 characters)" in error["message"]
    assert len(error["message"]) < 250
