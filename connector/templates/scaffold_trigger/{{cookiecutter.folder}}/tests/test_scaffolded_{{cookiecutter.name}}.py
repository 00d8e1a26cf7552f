"""The scaffolded trigger ``{{ cookiecutter.name }}``, against the sandbox."""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import BaseModel

from api_client import MxGuardClient
from connector import registry
from connector.polling import make_poller
from sandbox.server import SandboxServer
from tests.support import Account, SandboxAdmin
from triggers import MemoryCursorStore


def test_{{ cookiecutter.name }}_emits_what_is_new(
    sandbox: SandboxServer, admin: SandboxAdmin, account: Account
) -> None:
    trigger = registry.trigger("{{ cookiecutter.name }}")
    assert trigger is not None
    emitted: list[BaseModel] = []

    def sink(items: Sequence[BaseModel]) -> None:
        emitted.extend(items)

    with MxGuardClient(account.token, sandbox.base_url, rate_limit_db=":memory:") as client:
        store = MemoryCursorStore()
        poller = make_poller(trigger, client, trigger.filters(), store, key=trigger.key)
        poller.poll(sink)
        assert emitted == [], "the first poll starts from now"
        body = {"domain": "new.example", "real_mx_host": "mail.new.example"}
        assert admin.public(account, "POST", "/domains", body).status_code == 201
        poller.poll(sink)
        poller.poll(sink)
    assert [item.model_dump()["domain"] for item in emitted] == ["new.example"]
