"""The models follow the contract, and a newer server (new fields, new values) breaks nothing."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pydantic
import pytest

from api_client import (
    Domain,
    DomainCreate,
    Page,
    QuarantinedMessage,
    SenderRuleCreate,
    Stats,
    Verdict,
    VerdictType,
)
from api_client import models as client_models

OPENAPI = Path(__file__).resolve().parents[1] / "manifests" / "openapi.json"
VERDICT: dict[str, Any] = {
    "id": "vrd_1",
    "message_id": "<1@example.net>",
    "domain": "example.com",
    "sender": "a@example.net",
    "recipient": "b@example.com",
    "subject": "hello",
    "verdict": "spam",
    "score": 91.5,
    "action": "quarantined",
    "scanned_at": "2026-11-23T18:55:12.123456Z",
}


def test_timestamps_are_aware_datetimes() -> None:
    parsed = Verdict.model_validate(VERDICT)
    assert parsed.scanned_at == datetime(2026, 11, 23, 18, 55, 12, 123456, tzinfo=UTC)
    assert parsed.scanned_at.utcoffset() is not None
    with pytest.raises(pydantic.ValidationError):
        Verdict.model_validate({**VERDICT, "scanned_at": "2026-11-23T18:55:12"})


def test_unknown_fields_and_values_from_a_newer_server_are_kept() -> None:
    newer = {**VERDICT, "verdict": "graymail", "action": "tagged", "spf": {"result": "pass"}}
    parsed = Verdict.model_validate(newer)
    assert parsed.verdict == "graymail"
    assert isinstance(parsed.verdict, VerdictType)
    assert parsed.verdict is not VerdictType.spam
    assert parsed.model_extra == {"spf": {"result": "pass"}}
    assert parsed.model_dump(mode="json")["verdict"] == "graymail"
    assert VerdictType("spam") is VerdictType.spam
    with pytest.raises(pydantic.ValidationError):
        Verdict.model_validate({**VERDICT, "verdict": 3})


def test_request_bodies_refuse_unknown_fields() -> None:
    with pytest.raises(pydantic.ValidationError):
        DomainCreate.model_validate({"domain": "a.example", "real_mx_host": "m", "typo": 1})
    rule = SenderRuleCreate.model_validate({"pattern": "*@b.example", "action": "block"})
    assert rule.model_dump(mode="json", exclude_none=True) == {
        "pattern": "*@b.example",
        "action": "block",
    }


def test_page_is_generic() -> None:
    body = {"data": [VERDICT], "has_more": False, "next_cursor": None, "total_hint": 1}
    parsed = Page[Verdict].model_validate(body)
    assert isinstance(parsed.data[0], Verdict)
    assert parsed.model_extra == {"total_hint": 1}


@pytest.mark.parametrize(
    ("model", "schema"),
    [
        (Domain, "Domain"),
        (Verdict, "Verdict"),
        (QuarantinedMessage, "QuarantinedMessage"),
        (Stats, "Stats"),
        (client_models.SenderRule, "SenderRule"),
        (client_models.Account, "Account"),
        (DomainCreate, "DomainCreate"),
        (SenderRuleCreate, "SenderRuleCreate"),
    ],
)
def test_models_have_the_contracts_fields(model: type[pydantic.BaseModel], schema: str) -> None:
    contract = json.loads(OPENAPI.read_text())["components"]["schemas"][schema]
    assert set(model.model_fields) == set(contract["properties"])
    required = {name for name, field in model.model_fields.items() if field.is_required()}
    assert required == set(contract.get("required", []))
