"""``mxguard list`` and ``mxguard me``."""

from __future__ import annotations

import click

from connector import registry
from connector.cli.base import Settings, pass_settings


@click.command(name="list")
def list_operations() -> None:
    """Every trigger and action, one line each."""
    triggers, actions = registry.triggers(), registry.actions()
    width = max(len(k) for k in [*triggers, *actions]) + 2
    for key, definition in triggers.items():
        click.echo(f"trigger  {registry.kebab(key):<{width}}{definition.description}")
    for key, action in actions.items():
        kind = "search " if action.kind == "search" else "action "
        click.echo(f"{kind}  {registry.kebab(key):<{width}}{action.description}")


@click.command()
@pass_settings
def me(settings: Settings) -> None:
    """Verify the token and print the account."""
    with settings.client() as client:
        click.echo(client.me().model_dump_json(indent=2))
