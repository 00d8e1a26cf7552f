"""What every command of the ``mxguard`` command line shares: its settings, spelling of names."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import click
from pydantic import BaseModel

from api_client import MxGuardClient, Secret
from api_client.config import resolve_base_url
from connector import registry
from connector.exits import AuthenticationMissingError, CommandError
from connector.profiles import (
    DEFAULT_PROFILE,
    Profile,
    ProfileError,
    ProfileNotFoundError,
    ProfileStore,
)

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


@dataclass
class Settings:
    """The global options, passed to the commands that need them (``pass_settings``).

    ``token`` and ``base_url`` are what a command uses: ``--token``/``$MXGUARD_API_TOKEN`` and
    ``--base-url``/``$MXGUARD_API_URL`` when given, else those of the profile (``--profile``,
    ``$MXGUARD_PROFILE``, else the profile "default" when there is one). The profile is read
    only when a command asks, and once.
    """

    given_token: str | None = field(default=None, repr=False)
    """``--token`` or ``$MXGUARD_API_TOKEN``: wins over any profile."""
    given_base_url: str | None = None
    quiet: bool = False
    debug: bool = False
    per_minute: int | None = None
    per_hour: int | None = None
    """``--rate-limits``; None: ``$MXGUARD_RATE_LIMITS`` or the documented limits."""
    profile: str | None = None
    """``--profile`` or ``$MXGUARD_PROFILE``; None: the profile "default", when there is one."""
    profile_store: ProfileStore | None = field(default=None, repr=False)
    """Where profiles are; None: the user config folder and the OS keyring."""
    _profile_read: tuple[Profile | None] | None = field(default=None, init=False, repr=False)
    _login: tuple[Secret, Profile] | None = field(default=None, init=False, repr=False)
    _told: bool = field(default=False, init=False, repr=False)

    @property
    def token(self) -> str | None:
        """The token a command uses: the one given, else the profile's (None: neither)."""
        if self.given_token:
            if not self._told:
                self._told = True
                unused = f"; profile {self.profile!r} is not used" if self.profile else ""
                self.debug_line(f"token of --token/$MXGUARD_API_TOKEN{unused}")
            return self.given_token
        login = self._profile_login()
        return login[0].reveal() if login else None

    @token.setter
    def token(self, value: str | None) -> None:
        self.given_token = value

    @property
    def base_url(self) -> str | None:
        """The base URL given, else the profile's when its token is used (None: the default)."""
        if self.given_base_url or self.given_token:
            return self.given_base_url
        profile = self._profile()
        return profile.base_url if profile else None

    @base_url.setter
    def base_url(self, value: str | None) -> None:
        self.given_base_url = value

    def profiles(self) -> ProfileStore:
        if self.profile_store is None:
            self.profile_store = ProfileStore()
        return self.profile_store

    def profile_name(self, chosen: str | None = None) -> str:
        """The profile a command names: its own option, else ``--profile``, else "default"."""
        return chosen or self.profile or DEFAULT_PROFILE

    def client(self) -> MxGuardClient:
        token = self.token
        if not token:
            raise AuthenticationMissingError(
                "no MxGuard token: log in once with `mxguard login`, or set MXGUARD_API_TOKEN "
                "(or pass --token); the sandbox prints the lines to export"
            )
        return MxGuardClient(
            token, self.base_url, per_minute=self.per_minute, per_hour=self.per_hour
        )

    def say(self, message: str) -> None:
        if not self.quiet:
            click.echo(message, err=True)

    def debug_line(self, message: str) -> None:
        if self.debug:
            click.echo(f"mxguard: {message}", err=True)

    def _profile(self) -> Profile | None:
        """The profile named (an error when there is none), else "default" when there is one."""
        if self._profile_read is None:
            name = self.profile_name()
            try:
                profile = self.profiles().get(name)
                if profile is None and self.profile:
                    raise ProfileNotFoundError(self.profiles().missing(name))
            except ProfileError as error:
                raise profile_failure(error) from None
            self._profile_read = (profile,)
        return self._profile_read[0]

    def _profile_login(self) -> tuple[Secret, Profile] | None:
        profile = self._profile()
        if profile is None or self._login is not None:
            return self._login
        name = self.profile_name()
        try:
            self._login = self.profiles().token(name)
        except ProfileError as error:
            raise profile_failure(error) from None
        self.debug_line(
            f"token of profile {name!r} ({profile.account_name}, {profile.customer_id}), "
            f"from the {profile.token_store} ({profile.token_location})"
        )
        if self.given_base_url and _normal(self.given_base_url) != profile.base_url:
            self.say(
                f"mxguard: profile {name!r} logged in at {profile.base_url}; its token goes to "
                f"{self.given_base_url} (--base-url or $MXGUARD_API_URL) instead"
            )
        return self._login


def _normal(base_url: str) -> str:
    try:
        return resolve_base_url(base_url)
    except ValueError:
        return base_url


def profile_failure(error: ProfileError) -> CommandError:
    """A profile error as the command line reports it: no such profile or token is exit 4, a
    store that cannot be read or written exit 1."""
    if isinstance(error, ProfileNotFoundError):
        return AuthenticationMissingError(str(error))
    return CommandError(str(error))


pass_settings = click.make_pass_decorator(Settings)


class NamedGroup(click.Group):
    """Subcommands answer to snake_case and kebab-case alike."""

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        return super().get_command(ctx, registry.kebab(registry.normalize(cmd_name)))


def validated(model: type[BaseModel], data: dict[str, Any]) -> BaseModel:
    return model.model_validate(data)
