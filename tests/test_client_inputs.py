"""Inputs checked before any request: the name validators match whole values only, action inputs
take no value of the wrong type (``true`` is not the number 1), and no message echoes a huge
input whole. Against the sandbox, counting what it served."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from pydantic import ValidationError

from api_client import MxGuardClient
from api_client.names import check_object_id, normalize_host, normalize_sender_pattern
from connector.registry import actions
from sandbox.server import SandboxServer
from tests.support import Account, SandboxAdmin

HUGE = 1_000_000


@pytest.fixture
def client(sandbox: SandboxServer, account: Account) -> Iterator[MxGuardClient]:
    with MxGuardClient(account.token, sandbox.base_url, rate_limit_db=":memory:") as made:
        yield made


def _served(admin: SandboxAdmin, account: Account) -> int:
    total: int = admin.requests_served(account)["total"]
    return total


@pytest.mark.parametrize(
    "pattern",
    ["a\n@b.example", "*\n@b.example", "a.b\n@b.example", "a\r\n@b.example"],
)
def test_a_newline_in_a_sender_pattern_is_refused(pattern: str) -> None:
    """``$`` also matches before a final newline: the patterns must match the whole value."""
    with pytest.raises(ValueError, match="is not a sender pattern"):
        normalize_sender_pattern(pattern)


@pytest.mark.parametrize(
    ("check", "value"),
    [
        (normalize_sender_pattern, "a\n@b.example"),
        (normalize_host, "b\n.example"),
        (normalize_host, "b.example\n.com"),
        (check_object_id, "rule\n1"),
        (check_object_id, "rule_1\n\x00"),
    ],
)
def test_every_name_validator_matches_the_whole_value(check: Any, value: str) -> None:
    with pytest.raises(ValueError, match="is not"):
        check(value)


def test_valid_names_still_pass() -> None:
    assert normalize_sender_pattern(" *@B.example\n") == "*@b.example"
    assert normalize_sender_pattern("a.b+c@b.example") == "a.b+c@b.example"
    assert normalize_host("Bücher.Example.") == "xn--bcher-kva.example"
    assert check_object_id(" rule_1-x\n") == "rule_1-x"


def test_the_action_refuses_a_pattern_with_a_newline_before_any_request(
    client: MxGuardClient, admin: SandboxAdmin, account: Account
) -> None:
    before = _served(admin, account)
    raw = {"domain": "example.com", "pattern": "spam\n@deals.example", "action": "block"}
    with pytest.raises(ValidationError) as caught:
        actions()["add_sender_rule"].execute(client, raw)
    assert caught.value.errors()[0]["loc"] == ("pattern",)
    assert _served(admin, account) == before


@pytest.mark.parametrize(
    ("inputs", "field"),
    [
        ({"days": True}, "days"),
        ({"days": False}, "days"),
        ({"limit": True}, "limit"),
        ({"days": 7.0}, "days"),
        ({"days": "7"}, "days"),
        ({"limit": [3]}, "limit"),
        ({"sender": 42}, "sender"),
        ({"subject": b"bytes"}, "subject"),
        ({"status": True}, "status"),
    ],
)
def test_action_inputs_take_no_value_of_the_wrong_type(
    client: MxGuardClient,
    admin: SandboxAdmin,
    account: Account,
    inputs: dict[str, Any],
    field: str,
) -> None:
    before = _served(admin, account)
    with pytest.raises(ValidationError) as caught:
        actions()["find_quarantined_message"].execute(client, inputs)
    problems = caught.value.errors()
    assert [p["loc"] for p in problems] == [(field,)]
    assert field in str(caught.value)
    assert _served(admin, account) == before, "refused before any request"


def test_well_typed_inputs_still_run(client: MxGuardClient) -> None:
    found = actions()["find_quarantined_message"].execute(
        client, {"days": 3, "limit": 5, "status": "held", "subject": " watches "}
    )
    assert found == []


@pytest.mark.parametrize(
    ("key", "inputs", "field"),
    [
        ("add_domain", {"domain": "x" * HUGE, "real_mx_host": "mail.example.com"}, "domain"),
        ("add_domain", {"domain": "ok.example", "real_mx_host": "m" * HUGE}, "real_mx_host"),
        (
            "add_domain",
            {"domain": "a" * HUGE + ".example", "real_mx_host": "mail.example.com"},
            "domain",
        ),
        (
            "add_sender_rule",
            {"domain": "example.com", "pattern": "x" * HUGE + "@b.example", "action": "block"},
            "pattern",
        ),
        (
            "add_sender_rule",
            {"domain": "example.com", "pattern": "b.example", "action": "block" * HUGE},
            "action",
        ),
        ("remove_sender_rule", {"domain": "example.com", "rule_id": "r" * HUGE + "!"}, "rule_id"),
        ("release_message", {"message_id": "../" * HUGE}, "message_id"),
        ("find_quarantined_message", {"domain": "-" * HUGE}, "domain"),
        ("find_quarantined_message", {"status": "h" * HUGE}, "status"),
    ],
)
def test_a_huge_input_is_not_echoed_whole(
    client: MxGuardClient,
    admin: SandboxAdmin,
    account: Account,
    key: str,
    inputs: dict[str, Any],
    field: str,
) -> None:
    before = _served(admin, account)
    with pytest.raises(ValidationError) as caught:
        actions()[key].execute(client, inputs)
    problem = caught.value.errors()[0]
    assert problem["loc"] == (field,)
    assert len(str(caught.value)) < 1000
    assert len(problem["msg"]) < 500
    assert _served(admin, account) == before
