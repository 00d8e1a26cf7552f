"""``mxguard run ACTION``: one command per action or search, its inputs as options."""

from __future__ import annotations

import json
from typing import Any

import click
from pydantic import BaseModel

from actions import ActionConflictError
from connector import registry
from connector.cli.base import NamedGroup, Settings, pass_settings, validated
from connector.options import collect, options_for


@click.group(cls=NamedGroup, short_help="Run an action or search.")
def run() -> None:
    """Run an action or search; inputs as --input JSON (as platforms pass them) or one flag each."""


def run_command(key: str) -> click.Command:
    action = registry.actions()[key]

    @pass_settings
    def command(settings: Settings, /, **params: Any) -> None:
        data = validated(action.input, collect(action.input, params, params["input"]))
        with settings.client() as client:
            try:
                result = action.execute(client, data)
            except ActionConflictError as conflict:
                conflict.message = with_commands(conflict.message)
                conflict.args = (conflict.message,)
                raise
        click.echo(to_json(result))

    params: list[click.Parameter] = [
        *options_for(action.input),
        click.Option(["--input", "input"], metavar="JSON", help="All inputs as one JSON object."),
    ]
    return click.Command(
        registry.kebab(key),
        callback=command,
        params=params,
        help=f"{action.description}\n\nOn repeat: {action.on_repeat}",
        short_help=action.label,
    )


def with_commands(message: str) -> str:
    """A message naming actions by label (as every platform shows them) also gives the command
    that runs each one here: "use Update Domain (mxguard run update-domain)"."""
    for key, action in registry.actions().items():
        message = message.replace(
            action.label, f"{action.label} (mxguard run {registry.kebab(key)})"
        )
    return message


def to_json(result: Any) -> str:
    if isinstance(result, list):
        return json.dumps([r.model_dump(mode="json") for r in result], indent=2)
    assert isinstance(result, BaseModel)
    return result.model_dump_json(indent=2)


for _key in registry.actions():
    run.add_command(run_command(_key))
