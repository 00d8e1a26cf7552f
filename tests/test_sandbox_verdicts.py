"""Verdicts through the simulation API: pagination, filters, ties and late arrival."""

from __future__ import annotations

from typing import Any

from tests.support import Account, SandboxAdmin


def _all(admin: SandboxAdmin, account: Account, query: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        suffix = f"&cursor={cursor}" if cursor else ""
        page = admin.public(account, "GET", f"/verdicts?{query}{suffix}").json()
        items += page["data"]
        if not page["has_more"]:
            assert page["next_cursor"] is None
            return items
        cursor = page["next_cursor"]


def test_hundreds_of_ties_page_without_loss_or_repeat(
    admin: SandboxAdmin, account: Account
) -> None:
    stamp = "2026-01-02T03:04:05.000000Z"
    admin.traffic(account, 450, scanned_at=stamp, seed=1)
    items = _all(admin, account, "order=asc&limit=100")
    assert len(items) == 450
    assert len({item["id"] for item in items}) == 450
    assert {item["scanned_at"] for item in items} == {stamp}
    assert [item["id"] for item in items] == sorted(item["id"] for item in items)


def test_descending_is_the_default_and_the_reverse_of_ascending(
    admin: SandboxAdmin, account: Account
) -> None:
    admin.traffic(account, 120, spread_seconds=3600, seed=2)
    ascending = _all(admin, account, "order=asc&limit=50")
    descending = _all(admin, account, "limit=50")
    assert [v["id"] for v in descending] == [v["id"] for v in reversed(ascending)]
    keys = [(v["scanned_at"], v["id"]) for v in ascending]
    assert keys == sorted(keys)


def test_a_late_verdict_appears_after_newer_ones(admin: SandboxAdmin, account: Account) -> None:
    now = admin.now()
    late = admin.add_verdicts(
        account,
        [{"domain": "example.com", "scanned_at": now, "visible_after_seconds": 30}],
    )["verdicts"][0]
    admin.advance_clock(1)
    newer = admin.add_verdicts(account, [{"domain": "example.com"}])["verdicts"][0]
    assert [v["id"] for v in _all(admin, account, "order=asc")] == [newer["id"]]
    assert admin.public(account, "GET", f"/verdicts/{late['id']}").status_code == 404
    admin.advance_clock(30)
    ordered = [v["id"] for v in _all(admin, account, "order=asc")]
    assert ordered == [late["id"], newer["id"]], "visible now, sorted by its own scanned_at"
    assert admin.public(account, "GET", f"/verdicts/{late['id']}").json()["scanned_at"] == now


def test_filters_since_until_domain_verdict_action(admin: SandboxAdmin, account: Account) -> None:
    admin.public(
        account, "POST", "/domains", {"domain": "b.example", "real_mx_host": "mx.b.example"}
    )
    admin.add_verdicts(
        account,
        [
            {"domain": "example.com", "verdict": "spam", "scanned_at": "2026-03-01T00:00:00Z"},
            {"domain": "example.com", "verdict": "clean", "scanned_at": "2026-03-01T00:00:01Z"},
            {"domain": "b.example", "verdict": "phishing", "scanned_at": "2026-03-01T00:00:02Z"},
            {
                "domain": "b.example",
                "verdict": "malware",
                "action": "rejected",
                "scanned_at": "2026-03-01T00:00:03Z",
            },
        ],
    )
    assert len(_all(admin, account, "since=2026-03-01T00:00:01Z&until=2026-03-01T00:00:03Z")) == 2
    assert {v["domain"] for v in _all(admin, account, "domain=b.example")} == {"b.example"}
    kinds = {v["verdict"] for v in _all(admin, account, "verdict=spam&verdict=phishing")}
    assert kinds == {"spam", "phishing"}
    rejected = _all(admin, account, "action=rejected")
    assert [v["verdict"] for v in rejected] == ["malware"]


def test_bad_filters_are_clear_400_or_422(admin: SandboxAdmin, account: Account) -> None:
    for query, param in (
        ("since=yesterday", "since"),
        ("until=2026-01-01T00:00:00", "until"),
        ("verdict=eggs", "verdict.0"),
        ("limit=0", "limit"),
        ("limit=501", "limit"),
        ("order=sideways", "order"),
        ("cursor=not-a-cursor", "cursor"),
        ("cursor=12.", "cursor"),
    ):
        response = admin.public(account, "GET", f"/verdicts?{query}")
        assert response.status_code in (400, 422), query
        assert response.json()["error"]["param"] == param, query


def test_traffic_quarantines_what_it_should(admin: SandboxAdmin, account: Account) -> None:
    made = admin.traffic(account, 600, spread_seconds=600, seed=7)
    verdicts = _all(admin, account, "order=asc&limit=500")
    quarantined = [v for v in verdicts if v["action"] == "quarantined"]
    assert len(quarantined) == made["quarantined"] > 0
    held = admin.public(account, "GET", "/quarantine?limit=500").json()["data"]
    assert {q["verdict_id"] for q in held} == {v["id"] for v in quarantined}
    clean = sum(v["verdict"] == "clean" for v in verdicts) / len(verdicts)
    assert 0.75 < clean < 0.95
