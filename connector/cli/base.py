"""What every command of the ``mxguard`` command line shares: its settings, spelling of names."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import click
from pydantic import BaseModel

from api_client import MxGuardClient
from connector import registry
from connector.exits import AuthenticationMissingError

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


@dataclass
class Settings:
    """The global options, passed to the commands that need them (``pass_settings``)."""

    token: str | None = None
    base_url: str | None = None
    quiet: bool = False
    debug: bool = False
    per_minute: int | None = None
    per_hour: int | None = None
    """``--rate-limits``; None: ``$MXGUARD_RATE_LIMITS`` or the documented limits."""

    def client(self) -> MxGuardClient:
        if not self.token:
            raise AuthenticationMissingError(
                "no MxGuard token: set MXGUARD_API_TOKEN (or pass --token); the sandbox prints "
                "the lines to export"
            )
        return MxGuardClient(
            self.token, self.base_url, per_minute=self.per_minute, per_hour=self.per_hour
        )

    def say(self, message: str) -> None:
        if not self.quiet:
            click.echo(message, err=True)


pass_settings = click.make_pass_decorator(Settings)


class NamedGroup(click.Group):
    """Subcommands answer to snake_case and kebab-case alike."""

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        return super().get_command(ctx, registry.kebab(registry.normalize(cmd_name)))


def validated(model: type[BaseModel], data: dict[str, Any]) -> BaseModel:
    return model.model_validate(data)
