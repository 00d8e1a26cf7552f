"""{{ cookiecutter.label }}: made by ``mxguard scaffold action {{ cookiecutter.name }}``.

A working starting point: a search that reads the account's stats, optionally for one domain.
Change the input model, ``run`` and the output, then the HTTP mapping in
``connector/manifest/scaffolded/{{ cookiecutter.name }}.py``, and run ``mxguard manifests build``.
"""

from __future__ import annotations

from pydantic import Field

from actions.base import ActionDefinition, ActionInput
from api_client import MxGuardClient, Stats
from api_client.names import DomainName


class {{ cookiecutter.class_name }}Input(ActionInput):
    domain: DomainName | None = Field(
        default=None, description="Only this domain; the whole account when empty."
    )


def run(client: MxGuardClient, data: {{ cookiecutter.class_name }}Input) -> list[Stats]:
    return [client.stats(domain=data.domain)]


ACTION = ActionDefinition(
    key="{{ cookiecutter.name }}",
    noun="Stats",
    label="{{ cookiecutter.label }}",
    description="Reads the account's stats of the last 24 hours, optionally for one domain.",
    kind="search",
    input={{ cookiecutter.class_name }}Input,
    output=Stats,
    run=run,
    on_repeat="A search; it changes nothing.",
)
