"""Requests described as data (``api_client.mapping``) and the closed set of repeat rules
(``actions/repeat.py``): what a description may say, and how the client sends one."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, get_args

import pytest
from pydantic import TypeAdapter, ValidationError

from actions.repeat import Absent, Current, Empty, Existing, RepeatRule
from api_client import InvalidArgumentError, MxGuardClient
from api_client.mapping import HttpRequest, Param, fill, get, send
from connector.manifest import files
from connector.manifest.format import Operation
from sandbox.server import SandboxServer
from tests.client_support import sandbox_client
from tests.support import Account, SandboxAdmin

MANIFESTS = Path(__file__).resolve().parents[1] / "manifests"
RULES: TypeAdapter[Any] = TypeAdapter(RepeatRule)


@pytest.fixture
def client(sandbox: SandboxServer, account: Account, tmp_path: Path) -> Iterator[MxGuardClient]:
    with sandbox_client(sandbox, account, tmp_path / "rate.sqlite") as made:
        yield made


def test_the_four_shapes_are_the_whole_vocabulary() -> None:
    union = get_args(get_args(RepeatRule)[0])
    assert set(union) == {Absent, Existing, Current, Empty}
    with pytest.raises(ValidationError, match="shape"):
        RULES.validate_python({"shape": "maybe", "status": 409})


def test_a_rule_is_read_back_as_its_own_shape() -> None:
    for operation in files.load_operations(MANIFESTS):
        if operation.repeat is not None:
            again = RULES.validate_json(json.dumps(operation.repeat.model_dump(mode="json")))
            assert type(again) is type(operation.repeat)
            assert again == operation.repeat


def test_existing_needs_match_exactly_when_it_reads_a_list() -> None:
    lookup = get("/domains/{domain}/sender-rules")
    common: dict[str, Any] = {"outcome": "existing", "lookup": lookup, "same": {}, "error": "x"}
    with pytest.raises(ValidationError, match="find_in and match go together"):
        Existing(**common, find_in="data")
    with pytest.raises(ValidationError, match="find_in and match go together"):
        Existing(**common, match={"pattern": "pattern"})
    assert Existing(**common, find_in="data", match={"pattern": "pattern"}).find_in == "data"


def test_a_manifest_with_a_rule_of_an_unknown_shape_is_invalid() -> None:
    raw = json.loads((MANIFESTS / "actions" / "add_domain.json").read_text())
    raw["repeat"] = {**raw["repeat"], "shape": "sometimes"}
    with pytest.raises(ValidationError, match="repeat"):
        Operation.model_validate(raw)


def test_a_rule_missing_what_its_shape_needs_is_invalid() -> None:
    with pytest.raises(ValidationError, match="lookup"):
        RULES.validate_python({"shape": "current", "outcome": "x", "field": "s", "value": 1})


def test_unknown_names_in_a_message_template_stay_as_written() -> None:
    assert fill("{domain} has {missing}", {"domain": "a.example"}) == "a.example has {missing}"


def test_a_described_request_is_sent_as_the_typed_client_sends_it(
    client: MxGuardClient, admin: SandboxAdmin, account: Account
) -> None:
    request = send(
        "POST",
        "/domains",
        Param(name="domain", input="d"),
        Param(name="real_mx_host", value="mail.described.example"),
        Param(name="note", input="n"),
    )
    added = client.send(request, {"d": "described.example", "n": None})
    assert added.status == 201
    assert added.data["domain"] == "described.example"
    listed = client.send(get("/domains", Param(name="limit", input="limit")), {"limit": None})
    assert "described.example" in [d["domain"] for d in listed.data["data"]]
    assert client.domains.get("described.example").id == added.data["id"]


@pytest.mark.parametrize("value", [".", ".."])
def test_a_dot_segment_from_an_input_is_refused_before_any_request(
    client: MxGuardClient, admin: SandboxAdmin, account: Account, value: str
) -> None:
    before = admin.requests_served(account)["total"]
    with pytest.raises(InvalidArgumentError, match="would change the path"):
        client.send(get("/domains/{domain}"), {"domain": value})
    assert admin.requests_served(account)["total"] == before


def test_a_path_outside_the_api_is_refused_before_any_request(
    client: MxGuardClient, admin: SandboxAdmin, account: Account
) -> None:
    before = admin.requests_served(account)["total"]
    with pytest.raises(InvalidArgumentError, match="not a path under /api/v1"):
        client.send(HttpRequest(method="GET", path="/_sandbox/clock"), {})
    assert admin.requests_served(account)["total"] == before
