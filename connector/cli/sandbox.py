"""``mxguard sandbox``: a local, stateful MxGuard API."""

from __future__ import annotations

import sys

import click

from api_client.contract import DEFAULT_PER_HOUR, DEFAULT_PER_MINUTE


@click.command(short_help="Run a local, stateful MxGuard API.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8025, show_default=True, type=click.IntRange(0, 65535))
@click.option(
    "--db", "db_path", type=click.Path(dir_okay=False), help="SQLite file (default: in memory)."
)
@click.option("--seed", type=click.Choice(["demo", "empty"]), default="demo", show_default=True)
@click.option("--token", help="The first customer's token (default: a new mxg_test_ token).")
@click.option("--admin-token", help="Token of the /_sandbox/ simulation API (default: new).")
@click.option(
    "--rate-per-minute", default=DEFAULT_PER_MINUTE, show_default=True, type=click.IntRange(1)
)
@click.option(
    "--rate-per-hour", default=DEFAULT_PER_HOUR, show_default=True, type=click.IntRange(1)
)
def sandbox(
    host: str,
    port: int,
    db_path: str | None,
    seed: str,
    token: str | None,
    admin_token: str | None,
    rate_per_minute: int,
    rate_per_hour: int,
) -> None:
    """Run a local, stateful MxGuard API (the contract, plus the /_sandbox/ simulation API)."""
    from sandbox.server import serve_forever
    from sandbox.settings import SandboxSettings
    from sandbox.tokens import looks_like_token, new_token

    for name, value in (("--token", token), ("--admin-token", admin_token)):
        if value is not None and not (value.startswith("mxg_test_") and looks_like_token(value)):
            raise click.BadParameter(
                "expected mxg_test_ followed by 43 characters", param_hint=name
            )
    settings = SandboxSettings(
        db_path=db_path,
        seed=seed,  # type: ignore[arg-type]
        token=token or new_token(),
        admin_token=admin_token or new_token(),
        rate_per_minute=rate_per_minute,
        rate_per_hour=rate_per_hour,
    )
    base_url = f"http://{host}:{port}"
    click.echo(f"MxGuard sandbox on {base_url}  (Swagger UI: {base_url}/api/v1/docs)")
    click.echo(f"  customer token: {settings.token}")
    click.echo(f"  admin token:    {settings.admin_token}")
    click.echo("Point the mxguard command line at it (in another terminal):")
    click.echo(f"  export MXGUARD_API_URL={base_url}")
    click.echo(f"  export MXGUARD_API_TOKEN={settings.token}")
    click.echo("  mxguard me")
    click.echo(f'or: curl -H "Authorization: Bearer {settings.token}" {base_url}/api/v1/me')
    sys.stdout.flush()
    serve_forever(settings, host, port)
