"""``mxguard bridge tokens add|list|remove``: the tokens a bridge polls with, managed by its
operator (an MSP with a token per customer) on the bridge's own storage (``--data``/``--db``),
besides the tokens that arrive with subscriptions.

A token is checked against MxGuard (``/me``) before it is kept, sealed with the bridge's key;
listings show its fingerprint, never the token.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import click

from api_client.errors import shown
from bridge.storage import BridgeStorage
from connector.cli.base import Settings, pass_settings
from connector.cli.bridge import DB_ENV, bridge, data_option, db_option, default_data_folder
from connector.exits import InvalidInputError

TOKENS = "mxguard.bridge_tokens"


@bridge.group(short_help="The tokens the bridge polls with (for operators).")
@data_option("The bridge's data folder (its SQLite file and key) [default: as serve's].")
@db_option(f"The bridge's PostgreSQL database, as serve's --db. [env: {DB_ENV}]")
@click.pass_context
def tokens(ctx: click.Context, data: Path | None, db_url: str | None) -> None:
    """Add, list and remove the MxGuard tokens the bridge keeps (encrypted at rest), on its
    storage directly: run them where `mxguard bridge serve` runs, with the same --data or
    --db (and MXGUARD_BRIDGE_KEY, if the bridge uses it)."""
    ctx.meta[TOKENS] = (data or default_data_folder(), db_url)


def _storage(ctx: click.Context) -> BridgeStorage:
    from bridge.backends import open_storage

    folder, db_url = ctx.meta[TOKENS]
    if not folder.is_dir():
        if db_url is None:
            raise InvalidInputError(f"--data: {folder} is not a bridge data folder (none there)")
        folder.mkdir(parents=True)  # for the key, as serve makes it
    return open_storage(folder, db_url)


@tokens.command(short_help="Keep a token (checked against MxGuard first).")
@click.option("--label", default="", help="A name for people, e.g. the customer [default: theirs].")
@pass_settings
@click.pass_context
def add(ctx: click.Context, settings: Settings, label: str) -> None:
    """Keep the token of --token or $MXGUARD_API_TOKEN: MxGuard is asked whose it is (one
    request), then it is stored encrypted. Prints its fingerprint, customer and label."""
    from bridge.storage import OPERATOR

    with settings.client() as client:
        account = client.me()
        fingerprint = client.token.fingerprint
        token = client.token.reveal()
    storage = _storage(ctx)
    try:
        chosen = label.strip() or account.name
        storage.put_token(account.id, fingerprint, token, label=chosen, added_by=OPERATOR)
    finally:
        storage.close()
    click.echo(json.dumps({"fingerprint": fingerprint, "customer_id": account.id, "label": chosen}))


@tokens.command(name="list", short_help="The tokens kept (never the tokens themselves).")
@click.pass_context
def list_tokens(ctx: click.Context) -> None:
    """Every token kept, as a JSON array: fingerprint, customer, label, who added it
    (operator, or subscription), and how many subscriptions use it."""
    storage = _storage(ctx)
    try:
        kept = storage.tokens()
    finally:
        storage.close()
    click.echo(json.dumps([asdict(token) for token in kept], indent=2, ensure_ascii=False))


@tokens.command(short_help="Forget a token, and its subscriptions.")
@click.argument("fingerprint")
@click.option("--yes", is_flag=True, help="Also when subscriptions use it (they are removed).")
@click.pass_context
def remove(ctx: click.Context, fingerprint: str, yes: bool) -> None:
    """Forget the token with FINGERPRINT (as `list` shows it). Its subscriptions go with it,
    and what they had not received yet: without --yes, a token that subscriptions use is kept."""
    storage = _storage(ctx)
    try:
        found = {t.fingerprint: t for t in storage.tokens()}.get(fingerprint)
        if found is None:
            raise InvalidInputError(f"FINGERPRINT: no token {shown(fingerprint)} is kept")
        if found.subscriptions and not yes:
            raise InvalidInputError(
                f"{found.subscriptions} subscription(s) use this token and would be removed "
                "with it: add --yes to remove them too"
            )
        removed = storage.remove_token(fingerprint)
    finally:
        storage.close()
    click.echo(json.dumps({"fingerprint": fingerprint, "removed_subscriptions": removed or 0}))
