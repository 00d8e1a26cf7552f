"""``mxguard login``, ``mxguard logout`` and ``mxguard profiles``: tokens kept by name.

The token is read without echo (or as one line of standard input when it is not a terminal),
checked for its form, then with MxGuard (``/me``), and only then stored: in the OS keyring, or,
where there is none, in a file readable by the user alone, which is said on stderr. The store
itself is ``connector.profiles``; the global ``--profile`` that uses a profile is in
``connector.cli.base.Settings``.
"""

from __future__ import annotations

import json
import sys

import click

from api_client import MxGuardClient, Secret, check_token
from api_client.config import resolve_base_url
from api_client.contract import DEFAULT_BASE_URL
from connector.cli.base import Settings, pass_settings, profile_failure
from connector.exits import AuthenticationMissingError
from connector.profiles import DEFAULT_PROFILE, Profile, ProfileError, check_name

PROMPT = "MxGuard API token"


def profile_option(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """``--profile``: a name a profile can have, else a usage error."""
    if value is None:
        return None
    try:
        return check_name(value)
    except ValueError as error:
        raise click.BadParameter(str(error), ctx=ctx, param=param) from None


PROFILE = click.option(
    "--profile",
    "profile_name",
    metavar="NAME",
    callback=profile_option,
    help=f"The profile [default: the global --profile or $MXGUARD_PROFILE, else "
    f"{DEFAULT_PROFILE!r}].",
)


@click.command(short_help="Check a token with MxGuard and keep it as a profile.")
@PROFILE
@pass_settings
def login(settings: Settings, profile_name: str | None) -> None:
    """Check a token with MxGuard and keep it as a profile.

    \b
    The token is asked for without echo on a terminal, or read as one line of standard input:
      mxguard login --profile acme < token.txt
    It is checked for its form, then with MxGuard (/me, at --base-url or $MXGUARD_API_URL, else
    the profile's earlier base URL, else the public API); nothing is stored when either fails.

    It goes to the OS keyring (service "mxguard-connector", username the profile's name). Where
    there is no keyring backend (a headless server), that is said on stderr and the token goes to
    tokens.json, readable by you alone (mode 0600). The account's name, customer id, base URL,
    the token's fingerprint and where the token is go to profiles.json beside it: the user config
    folder, or $MXGUARD_CONFIG_DIR. Logging in again to a profile replaces it.

    Then any command takes the token from the profile: `mxguard --profile acme me`, or with
    MXGUARD_PROFILE=acme; the profile "default" is used when none is named. --token or
    $MXGUARD_API_TOKEN, when given, wins. Prints the profile as JSON.
    """
    name = settings.profile_name(profile_name)
    store = settings.profiles()
    try:
        previous = store.get(name)
    except ProfileError as error:
        raise profile_failure(error) from None
    base_url = _base_url(settings, previous)
    secret = _read_token()
    with MxGuardClient(
        secret, base_url, per_minute=settings.per_minute, per_hour=settings.per_hour
    ) as client:
        account = client.me()
    try:
        saved = store.save(
            name, secret, account_name=account.name, customer_id=account.id, base_url=base_url
        )
    except ProfileError as error:
        raise profile_failure(error) from None
    profile = saved.profile
    if saved.no_keyring is not None:
        click.echo(
            f"mxguard: {saved.no_keyring}, so the token of profile {name!r} is stored in "
            f"{profile.token_location}, readable by you alone (mode 0600). Install a keyring "
            "backend and log in again to keep it in a keyring instead.",
            err=True,
        )
    where = "the keyring" if profile.token_store == "keyring" else "a file"
    settings.say(
        f"mxguard: {'replaced' if saved.replaced else 'saved'} profile {name!r}: "
        f"{profile.account_name} ({profile.customer_id}) at {profile.base_url}; the token "
        f"(fingerprint {profile.fingerprint}) is in {where} ({profile.token_location})"
    )
    if settings.given_token:
        settings.say(
            "mxguard: note: --token or $MXGUARD_API_TOKEN is set, and wins over any profile"
        )
    click.echo(json.dumps(_shown(name, profile), ensure_ascii=False))


@click.command(short_help="Forget a profile and its token.")
@PROFILE
@pass_settings
def logout(settings: Settings, profile_name: str | None) -> None:
    """Forget a profile: its token (keyring entry or file entry) and its facts.

    The token itself stays valid at MxGuard until it is revoked there. A profile that is not
    there is no error (outcome "already_absent"). Prints the outcome as JSON.
    """
    name = settings.profile_name(profile_name)
    try:
        removed = settings.profiles().remove(name)
    except ProfileError as error:
        raise profile_failure(error) from None
    gone = removed.profile is not None or removed.from_keyring or removed.from_file
    if removed.profile is not None:
        settings.say(
            f"mxguard: removed profile {name!r} ({removed.profile.account_name}); the token "
            "stays valid at MxGuard until you revoke it there"
        )
    elif gone:
        settings.say(f"mxguard: no profile {name!r}; removed a token left under its name")
    else:
        settings.say(f"mxguard: no profile {name!r}; nothing to remove")
    outcome = "removed" if gone else "already_absent"
    click.echo(json.dumps({"profile": name, "outcome": outcome}))


@click.command(short_help="The profiles: account, customer, URL, fingerprint.")
@click.option("--json", "as_json", is_flag=True, help="A JSON array instead of a table.")
@pass_settings
def profiles(settings: Settings, as_json: bool) -> None:
    """The profiles of `mxguard login`: account, customer id, base URL, the token's fingerprint
    and where the token is; never the token. '*' marks the one commands use now (--profile,
    $MXGUARD_PROFILE, else "default")."""
    try:
        found = settings.profiles().profiles()
    except ProfileError as error:
        raise profile_failure(error) from None
    if as_json:
        shown = [_shown(name, profile) for name, profile in found.items()]
        click.echo(json.dumps(shown, indent=2, ensure_ascii=False))
        return
    if not found:
        settings.say("mxguard: no profiles yet: log in with `mxguard login [--profile NAME]`")
        return
    current = settings.profile_name()
    rows = [("", "PROFILE", "ACCOUNT", "CUSTOMER", "BASE URL", "FINGERPRINT", "TOKEN IN")]
    rows += [
        (
            "*" if name == current else "",
            name,
            profile.account_name,
            profile.customer_id,
            profile.base_url,
            profile.fingerprint,
            profile.token_store,
        )
        for name, profile in found.items()
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        cells = (cell.ljust(width) for cell, width in zip(row, widths, strict=True))
        click.echo("  ".join(cells).rstrip())


def _shown(name: str, profile: Profile) -> dict[str, str]:
    return {"profile": name, **profile.model_dump()}


def _base_url(settings: Settings, previous: Profile | None) -> str:
    """--base-url or $MXGUARD_API_URL, else the profile's earlier one, else the public API."""
    chosen = settings.given_base_url or (previous.base_url if previous else DEFAULT_BASE_URL)
    try:
        return resolve_base_url(chosen)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--base-url") from None


def _read_token() -> Secret:
    """The token: asked for without echo on a terminal, else one line of standard input."""
    stdin = sys.stdin
    if stdin is not None and stdin.isatty():
        value = click.prompt(PROMPT, hide_input=True, err=True, default="", show_default=False)
        source = "the token entered"
    else:
        value = stdin.readline() if stdin is not None else ""
        source = "standard input"
    if not value.strip():
        raise AuthenticationMissingError(
            f"no token in {source}: one line holding the MxGuard API token (mxg_live_… or "
            "mxg_test_…) is expected"
        )
    return check_token(value, source=source)
