"""Every operation of the contract through the client, against the sandbox over real HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from api_client import (
    Account,
    AuthenticationError,
    ConflictError,
    Domain,
    DomainCreate,
    DomainStatus,
    DomainUpdate,
    InvalidArgumentError,
    InvalidRequestError,
    MxGuardClient,
    NotFoundError,
    Page,
    QuarantinedMessage,
    QuarantineStatus,
    RuleAction,
    SenderRuleCreate,
    SortOrder,
    Verdict,
    VerdictAction,
    VerdictType,
)
from sandbox.server import SandboxServer
from tests.client_support import sandbox_client
from tests.support import Account as SandboxAccount
from tests.support import SandboxAdmin


@pytest.fixture
def client(
    sandbox: SandboxServer, account: SandboxAccount, tmp_path: Path
) -> Iterator[MxGuardClient]:
    with sandbox_client(sandbox, account, tmp_path / "rate.sqlite") as client:
        yield client


def test_me_verifies_the_token(client: MxGuardClient, account: SandboxAccount) -> None:
    me = client.me()
    assert isinstance(me, Account)
    assert me.id == account.customer_id
    assert me.token.id == account.token_id
    assert me.token.prefix == account.token[:13] + "…"
    assert me.rate_limits.per_minute == 60
    assert me.rate_limits.per_hour == 600
    assert me.created_at.tzinfo is not None


def test_domain_lifecycle(client: MxGuardClient) -> None:
    added = client.domains.add(domain="Shop.Example", real_mx_host="mail.shop.example")
    assert isinstance(added, Domain)
    assert added.domain == "shop.example"
    assert added.status is DomainStatus.pending
    assert added.mx_records[0].host.endswith("mxguard.uk")
    assert added.created_at.tzinfo is not None
    with pytest.raises(ConflictError) as conflict:
        client.domains.add(DomainCreate(domain="shop.example", real_mx_host="x.example"))
    assert conflict.value.status == 409
    assert conflict.value.param == "domain"
    assert conflict.value.request_id
    assert client.domains.get("SHOP.example").id == added.id
    updated = client.domains.update("shop.example", real_mx_host="mail2.shop.example")
    assert updated.real_mx_host == "mail2.shop.example"
    assert updated.updated_at > updated.created_at
    again = client.domains.update("shop.example", DomainUpdate(real_mx_host="mail3.shop.example"))
    assert again.real_mx_host == "mail3.shop.example"
    names = [d.domain for d in client.domains.list()]
    assert names == ["shop.example", "example.com"]
    assert [d.domain for d in client.domains.list(order="asc")] == names[::-1]
    client.domains.remove("shop.example")
    with pytest.raises(NotFoundError) as missing:
        client.domains.get("shop.example")
    assert missing.value.error_type == "not_found"
    assert missing.value.param == "domain"


def test_invalid_input_names_the_field(client: MxGuardClient) -> None:
    with pytest.raises(InvalidRequestError) as caught:
        client.domains.add(domain="bücher.example", real_mx_host="mail.example.com")
    assert caught.value.status == 422
    assert caught.value.param == "domain"
    assert "punycode" in caught.value.message
    with pytest.raises(InvalidRequestError) as bad_time:
        list(client.verdicts.list(since="yesterday"))
    assert isinstance(bad_time.value, InvalidArgumentError), "refused before sending"
    assert bad_time.value.status is None
    assert bad_time.value.param == "since"
    with pytest.raises(InvalidRequestError) as too_big:
        client.verdicts.page(limit=501)
    assert too_big.value.param == "limit"


def test_domains_filter_by_time_and_page_by_cursor(client: MxGuardClient) -> None:
    for index in range(4):
        client.domains.add(domain=f"d{index}.example", real_mx_host="mx.example.org")
    first = client.domains.page(order="asc", limit=2)
    assert isinstance(first, Page)
    assert [d.domain for d in first.data] == ["example.com", "d0.example"]
    assert first.has_more
    assert first.next_cursor
    second = client.domains.page(order="asc", limit=2, cursor=first.next_cursor)
    assert [d.domain for d in second.data] == ["d1.example", "d2.example"]
    pages = list(client.domains.pages(order="asc", limit=2))
    assert [len(p.data) for p in pages] == [2, 2, 1]
    assert pages[-1].has_more is False
    assert pages[-1].next_cursor is None
    cut = first.data[1].created_at
    assert [d.domain for d in client.domains.list(until=cut)] == ["example.com"]
    later = [d.domain for d in client.domains.list(since=cut, order="asc")]
    assert later == ["d0.example", "d1.example", "d2.example", "d3.example"]


def test_sender_rules(client: MxGuardClient) -> None:
    rule = client.sender_rules.add("example.com", pattern="*@Spam.Example", action="block")
    assert rule.pattern == "*@spam.example"
    assert rule.action is RuleAction.block
    assert rule.note is None
    allow = client.sender_rules.add(
        "example.com",
        SenderRuleCreate(pattern="boss@partner.example", action=RuleAction.allow, note="CEO"),
    )
    assert allow.note == "CEO"
    with pytest.raises(ConflictError) as duplicate:
        client.sender_rules.add("example.com", pattern="*@spam.example", action="allow")
    assert duplicate.value.param == "pattern"
    listed = list(client.sender_rules.list("example.com", order=SortOrder.asc, limit=1))
    assert [r.id for r in listed] == [rule.id, allow.id]
    page = client.sender_rules.page("example.com", limit=1)
    assert page.has_more
    assert [r.id for r in page.data] == [allow.id]
    assert len(list(client.sender_rules.pages("example.com", limit=1))) == 2
    client.sender_rules.remove("example.com", rule.id)
    assert [r.id for r in client.sender_rules.list("example.com")] == [allow.id]
    with pytest.raises(NotFoundError) as gone:
        client.sender_rules.remove("example.com", rule.id)
    assert gone.value.param == "rule_id"
    with pytest.raises(NotFoundError):
        list(client.sender_rules.list("nowhere.example"))


def test_ids_are_escaped_in_paths(client: MxGuardClient) -> None:
    with pytest.raises(NotFoundError) as caught:
        client.verdicts.get("a b?c=d#e")
    assert caught.value.param == "verdict_id"
    assert "a b?c=d#e" in caught.value.message
    with pytest.raises(NotFoundError) as climbing:
        client.verdicts.get("../me")
    assert climbing.value.path == "/api/v1/verdicts/..%2Fme"
    with pytest.raises(ValueError, match="must not be empty"):
        client.quarantine.get("")


def test_verdicts_with_every_filter(
    client: MxGuardClient, admin: SandboxAdmin, account: SandboxAccount
) -> None:
    base = datetime.fromisoformat(admin.now()) - timedelta(minutes=10)
    rows = [
        ("v1", "clean", "delivered", 0, "example.com"),
        ("v2", "spam", "quarantined", 1, "example.com"),
        ("v3", "phishing", "quarantined", 2, "other.example"),
        ("v4", "malware", "rejected", 3, "example.com"),
        ("v5", "spam", "delivered", 4, "example.com"),
    ]
    admin.add_verdicts(
        account,
        [
            {
                "id": f"vrd_{name}",
                "domain": domain,
                "verdict": verdict,
                "action": action,
                "scanned_at": (base + timedelta(seconds=offset)).isoformat(),
            }
            for name, verdict, action, offset, domain in rows
        ],
    )
    everything = list(client.verdicts.list())
    assert [v.id for v in everything] == ["vrd_v5", "vrd_v4", "vrd_v3", "vrd_v2", "vrd_v1"]
    assert all(isinstance(v, Verdict) and v.scanned_at.tzinfo for v in everything)

    def ids(**filters: Any) -> list[str]:
        return [v.id.removeprefix("vrd_") for v in client.verdicts.list(order="asc", **filters)]

    assert ids(domain="other.example") == ["v3"]
    assert ids(verdict="spam") == ["v2", "v5"]
    assert ids(verdict=[VerdictType.spam, "phishing"]) == ["v2", "v3", "v5"]
    assert ids(action=VerdictAction.quarantined) == ["v2", "v3"]
    assert ids(action=["delivered", "rejected"], verdict="spam") == ["v5"]
    assert ids(since=base + timedelta(seconds=1), until=base + timedelta(seconds=3)) == ["v2", "v3"]
    assert ids(since=(base + timedelta(seconds=3)).astimezone(UTC).isoformat()) == ["v4", "v5"]
    assert ids(limit=2) == ["v1", "v2", "v3", "v4", "v5"]
    first = client.verdicts.page(order="asc", limit=2, verdict=["spam", "malware"])
    rest = client.verdicts.page(
        order="asc", limit=2, verdict=["spam", "malware"], cursor=first.next_cursor
    )
    assert [v.id for v in first.data + rest.data] == ["vrd_v2", "vrd_v4", "vrd_v5"]
    assert not rest.has_more
    pages = list(client.verdicts.pages(order="desc", limit=3))
    assert [len(p.data) for p in pages] == [3, 2]
    fetched = client.verdicts.get("vrd_v3")
    assert fetched.verdict is VerdictType.phishing
    assert fetched == everything[2]
    with pytest.raises(NotFoundError):
        client.verdicts.get("vrd_nope")


def test_quarantine_list_release_and_report(
    client: MxGuardClient, admin: SandboxAdmin, account: SandboxAccount
) -> None:
    now = datetime.fromisoformat(admin.now())
    admin.add_verdicts(
        account,
        [
            {"domain": domain, "verdict": kind, "subject": subject, "scanned_at": at.isoformat()}
            for domain, kind, subject, at in [
                ("example.com", "spam", "one", now - timedelta(seconds=3)),
                ("example.com", "phishing", "two", now - timedelta(seconds=2)),
                ("other.example", "malware", "three", now - timedelta(seconds=1)),
            ]
        ],
    )
    held = list(client.quarantine.list(domain="example.com", status="held", order="asc"))
    assert [m.subject for m in held] == ["one", "two"]
    assert all(isinstance(m, QuarantinedMessage) for m in held)
    assert held[0].expires_at > held[0].quarantined_at
    released = client.quarantine.release(held[0].id)
    assert released.status is QuarantineStatus.released
    assert released.released_at is not None
    with pytest.raises(ConflictError) as twice:
        client.quarantine.release(held[0].id)
    assert "already released" in twice.value.message
    reported = client.quarantine.report_spam(held[0].id)
    assert reported.status is QuarantineStatus.reported
    assert client.quarantine.get(held[1].id).status is QuarantineStatus.held
    statuses = {m.subject: m.status for m in client.quarantine.list()}
    assert statuses == {"one": "reported", "two": "held", "three": "held"}
    assert [m.subject for m in client.quarantine.list(status=["released", "reported"])] == ["one"]
    since = held[1].quarantined_at
    assert {m.subject for m in client.quarantine.list(since=since)} >= {"two", "three"}
    assert list(client.quarantine.list(until=held[0].quarantined_at)) == []
    page = client.quarantine.page(limit=2)
    assert page.has_more
    assert len(client.quarantine.page(limit=2, cursor=page.next_cursor).data) == 1
    assert [len(p.data) for p in client.quarantine.pages(limit=2)] == [2, 1]
    with pytest.raises(NotFoundError):
        client.quarantine.report_spam("qmsg_nope")


def test_stats(client: MxGuardClient, admin: SandboxAdmin, account: SandboxAccount) -> None:
    admin.traffic(account, 40, seed=7)
    stats = client.stats()
    assert stats.messages_scanned == 40
    assert sum(stats.by_verdict.values()) == 40
    assert stats.domains == 1
    assert stats.until - stats.since == timedelta(days=1)
    assert 0 <= stats.quarantine_rate <= 1
    one = client.stats(domain="example.com", since=stats.since, until=stats.until)
    assert one.domain == "example.com"
    assert one.messages_scanned == 40
    empty = client.stats(since=stats.until + timedelta(hours=1))
    assert empty.messages_scanned == 0


def test_a_revoked_token_is_an_authentication_error(
    sandbox: SandboxServer, admin: SandboxAdmin, tmp_path: Path
) -> None:
    victim = admin.new_account()
    admin.call("DELETE", f"/tokens/{victim.token_id}", expect=204)
    client = sandbox_client(sandbox, victim, tmp_path / "rate.sqlite")
    with client, pytest.raises(AuthenticationError) as caught:
        client.me()
    assert caught.value.status == 401
    assert caught.value.error_type == "authentication_failed"
    assert "revoked" in caught.value.message
    assert victim.token not in str(caught.value)


def test_another_customers_objects_are_not_found(
    client: MxGuardClient, admin: SandboxAdmin
) -> None:
    other = admin.new_account(domains=("theirs.example",))
    admin.add_verdicts(other, [{"id": "vrd_theirs_1", "domain": "theirs.example"}])
    with pytest.raises(NotFoundError):
        client.domains.get("theirs.example")
    with pytest.raises(NotFoundError):
        client.verdicts.get("vrd_theirs_1")
