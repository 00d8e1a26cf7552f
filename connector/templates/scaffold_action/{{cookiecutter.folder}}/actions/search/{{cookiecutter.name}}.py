"""{{ cookiecutter.label }}: made by ``mxguard scaffold action {{ cookiecutter.name }}``.

A working starting point: a search that reads the account's stats, optionally for one domain.
Change the input model, the request and the output; an action that is not a search moves to the
folder of its kind (``actions/create/``, ``update/`` or ``delete/``) and says what a repeat
answers (``actions/repeat.py``). Then run ``mxguard manifests build``.
"""

from __future__ import annotations

from pydantic import Field

from actions.base import ActionDefinition, ActionInput
from actions.repeat import ActionHttp
from api_client import Stats
from api_client.examples import STATS
from api_client.mapping import from_inputs, get
from api_client.names import DomainName


class {{ cookiecutter.class_name }}Input(ActionInput):
    domain: DomainName | None = Field(
        default=None, description="Only this domain; the whole account when empty."
    )


ACTION = ActionDefinition(
    key="{{ cookiecutter.name }}",
    noun="Stats",
    label="{{ cookiecutter.label }}",
    description="Reads the account's stats of the last 24 hours, optionally for one domain.",
    kind="search",
    input={{ cookiecutter.class_name }}Input,
    output=Stats,
    http=ActionHttp(request=get("/stats", *from_inputs("domain"))),
    on_repeat="A search; it changes nothing.",
    sample=STATS,
    dropdowns=frozenset({"domain"}),
)
