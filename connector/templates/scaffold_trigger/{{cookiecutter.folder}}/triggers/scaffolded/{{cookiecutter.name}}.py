"""{{ cookiecutter.label }}: made by ``mxguard scaffold trigger {{ cookiecutter.name }}``.

A working starting point: fires for each new domain of the account, with the same dedupe cursor
as every trigger. Change the filters, ``fetch``, the output and ``time_field``, then the HTTP
mapping in ``connector/manifest/scaffolded/{{ cookiecutter.name }}.py``, and run
``mxguard manifests build``.
"""

from __future__ import annotations

from datetime import datetime

from api_client import Domain, MxGuardClient
from triggers.base import FetchedPage, Order, TriggerDefinition
from triggers.definitions import NoFilters


def fetch(
    client: MxGuardClient,
    *,
    filters: NoFilters,
    since: datetime | None,
    cursor: str | None,
    limit: int,
    order: Order,
) -> FetchedPage:
    page = client.domains.page(since=since, order=order, limit=limit, cursor=cursor)
    return FetchedPage.of(page)


TRIGGER = TriggerDefinition(
    key="{{ cookiecutter.name }}",
    noun="Domain",
    label="{{ cookiecutter.label }}",
    description="Fires when a domain is added to the account.",
    filters=NoFilters,
    output=Domain,
    time_field="created_at",
    fetch=fetch,
)
