"""{{ cookiecutter.label }}: made by ``mxguard scaffold trigger {{ cookiecutter.name }}``.

A working starting point: fires for each new domain of the account, with the same dedupe cursor
as every trigger. Change the filters, the request (its query values name filters), the output
and ``time_field``, then run ``mxguard manifests build``.
"""

from __future__ import annotations

from api_client import Domain
from api_client.examples import DOMAIN
from api_client.mapping import get
from triggers.base import NoFilters, TriggerDefinition

TRIGGER = TriggerDefinition(
    key="{{ cookiecutter.name }}",
    noun="Domain",
    label="{{ cookiecutter.label }}",
    description="Fires when a domain is added to the account.",
    filters=NoFilters,
    output=Domain,
    time_field="created_at",
    request=get("/domains"),
    sample=DOMAIN,
)
