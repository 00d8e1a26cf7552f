"""Actions and searches against the sandbox: validation first, defined behaviour on repeats."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import responses
from pydantic import ValidationError

from actions import ActionConflictError
from api_client import MxGuardClient, NotFoundError
from connector.registry import actions
from sandbox.server import SandboxServer
from tests.support import Account, SandboxAdmin


@pytest.fixture
def client(sandbox: SandboxServer, account: Account) -> Iterator[MxGuardClient]:
    with MxGuardClient(account.token, sandbox.base_url, rate_limit_db=":memory:") as made:
        yield made


def run(client: MxGuardClient, key: str, **inputs: Any) -> Any:
    return actions()[key].execute(client, inputs)


def test_add_domain_converts_idn_and_is_idempotent(client: MxGuardClient) -> None:
    first = run(client, "add_domain", domain="Bücher.Example", real_mx_host="mail.bücher.example")
    assert first.domain == "xn--bcher-kva.example"
    assert first.real_mx_host == "mail.xn--bcher-kva.example"
    assert first.outcome == "created"
    again = run(
        client, "add_domain", domain="bücher.example", real_mx_host="MAIL.xn--bcher-kva.example"
    )
    assert again.outcome == "existing"
    assert again.id == first.id
    with pytest.raises(ActionConflictError, match="already exists with MX host") as caught:
        run(client, "add_domain", domain="bücher.example", real_mx_host="other.example")
    assert caught.value.field == "real_mx_host"


@pytest.mark.parametrize(
    ("inputs", "field"),
    [
        ({"domain": "no-dot", "real_mx_host": "mail.example.com"}, "domain"),
        ({"domain": "-x.example", "real_mx_host": "mail.example.com"}, "domain"),
        ({"domain": "a b.example", "real_mx_host": "mail.example.com"}, "domain"),
        ({"domain": "x" * 64 + ".example", "real_mx_host": "mail.example.com"}, "domain"),
        ({"domain": "ok.example", "real_mx_host": "mail@example.com"}, "real_mx_host"),
        ({"domain": "ok.example"}, "real_mx_host"),
        ({"domain": "ok.example", "real_mx_host": "m.example", "colour": "red"}, "colour"),
    ],
)
@responses.activate
def test_bad_input_fails_before_any_request(inputs: dict[str, str], field: str) -> None:
    client = MxGuardClient("mxg_test_" + "a" * 43, "http://127.0.0.1:9", rate_limit_db=":memory:")
    with pytest.raises(ValidationError) as caught:
        actions()["add_domain"].execute(client, inputs)
    assert caught.value.errors()[0]["loc"] == (field,)
    assert len(responses.calls) == 0


def test_update_and_remove_domain(client: MxGuardClient) -> None:
    updated = run(client, "update_domain", domain="example.com", real_mx_host="mx2.example.com")
    assert updated.real_mx_host == "mx2.example.com"
    assert run(client, "find_domain", domain="EXAMPLE.com")[0].real_mx_host == "mx2.example.com"
    assert run(client, "remove_domain", domain="example.com").outcome == "removed"
    assert run(client, "remove_domain", domain="example.com").outcome == "already_absent"
    assert run(client, "find_domain", domain="example.com") == []
    with pytest.raises(NotFoundError):
        run(client, "update_domain", domain="example.com", real_mx_host="mx.example.com")


def test_sender_rules_repeat_safely(client: MxGuardClient) -> None:
    rule = run(
        client, "add_sender_rule", domain="example.com", pattern="*@Spam.Example", action="block"
    )
    assert (rule.pattern, rule.outcome) == ("*@spam.example", "created")
    again = run(
        client, "add_sender_rule", domain="example.com", pattern="*@spam.example", action="block"
    )
    assert (again.id, again.outcome) == (rule.id, "existing")
    with pytest.raises(ActionConflictError, match="remove it before"):
        run(
            client,
            "add_sender_rule",
            domain="example.com",
            pattern="*@spam.example",
            action="allow",
        )
    with pytest.raises(ValidationError, match="not a sender pattern"):
        run(
            client, "add_sender_rule", domain="example.com", pattern="a b@x.example", action="block"
        )
    with pytest.raises(ValidationError):
        run(client, "add_sender_rule", domain="example.com", pattern="x.example", action="maybe")
    removed = run(client, "remove_sender_rule", domain="example.com", rule_id=rule.id)
    assert removed.outcome == "removed"
    assert run(client, "remove_sender_rule", domain="example.com", rule_id=rule.id).outcome == (
        "already_absent"
    )
    with pytest.raises(NotFoundError):
        run(client, "remove_sender_rule", domain="missing.example", rule_id=rule.id)


def test_release_and_report_repeat_safely(
    client: MxGuardClient, admin: SandboxAdmin, account: Account
) -> None:
    admin.add_verdicts(
        account,
        [
            {
                "domain": "example.com",
                "verdict": "spam",
                "sender": "promo@deals.example",
                "subject": "Cheap watches",
            },
            {
                "domain": "example.com",
                "verdict": "phishing",
                "sender": "it@phish.example",
                "subject": "Verify your mailbox",
            },
        ],
    )
    found = run(client, "find_quarantined_message", sender="DEALS.example")
    assert [m.subject for m in found] == ["Cheap watches"]
    message_id = found[0].id
    assert run(client, "release_message", message_id=message_id).outcome == "released"
    assert run(client, "release_message", message_id=message_id).outcome == "already_released"
    assert run(client, "find_quarantined_message", sender="deals") == []
    assert len(run(client, "find_quarantined_message", status="released")) == 1
    phish = run(client, "find_quarantined_message", subject="verify")[0].id
    assert run(client, "report_spam", message_id=phish).outcome == "reported"
    assert run(client, "report_spam", message_id=phish).outcome == "already_reported"
    with pytest.raises(ActionConflictError, match="only held messages"):
        run(client, "release_message", message_id=phish)
    with pytest.raises(NotFoundError):
        run(client, "release_message", message_id="qmsg_missing")
    with pytest.raises(ValidationError):
        run(client, "release_message", message_id="../../me")
