"""The ``mxguard`` command line."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from connector import __version__, contract

SPEC_PATH = Path("manifests") / "openapi.json"


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="mxguard")
def main() -> None:
    """MxGuard connector bundle: poll triggers, run actions, export integrations, run a sandbox."""


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8025, show_default=True, type=click.IntRange(0, 65535))
@click.option(
    "--db", "db_path", type=click.Path(dir_okay=False), help="SQLite file (default: in memory)."
)
@click.option("--seed", type=click.Choice(["demo", "empty"]), default="demo", show_default=True)
@click.option("--token", help="The first customer's token (default: a new mxg_test_ token).")
@click.option("--admin-token", help="Token of the /_sandbox/ simulation API (default: new).")
@click.option("--rate-per-minute", default=60, show_default=True, type=click.IntRange(1))
@click.option("--rate-per-hour", default=600, show_default=True, type=click.IntRange(1))
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
    click.echo(f'  try: curl -H "Authorization: Bearer {settings.token}" {base_url}/api/v1/me')
    sys.stdout.flush()
    serve_forever(settings, host, port)


@main.group(name="contract")
def contract_group() -> None:
    """The API contract, manifests/openapi.json."""


@contract_group.command(name="write")
@click.option("--path", type=click.Path(path_type=Path), default=SPEC_PATH, show_default=True)
def contract_write(path: Path) -> None:
    """Regenerate the contract file from the sandbox's definitions."""
    contract.write(path)
    click.echo(f"wrote {path}")


@contract_group.command(name="check")
@click.option("--path", type=click.Path(path_type=Path), default=SPEC_PATH, show_default=True)
def contract_check(path: Path) -> None:
    """Fail when the contract file drifted from the code."""
    problem = contract.drift(path)
    if problem:
        raise click.ClickException(problem)
    click.echo(f"{path} is up to date")


@contract_group.command(name="diff")
@click.argument("published", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--path", type=click.Path(path_type=Path), default=SPEC_PATH, show_default=True)
def contract_diff(published: Path, path: Path) -> None:
    """Compare our contract with a published openapi.json; exit 1 when they differ."""
    lines = contract.diff(contract.load(path), contract.load(published))
    for line in lines:
        click.echo(line)
    if lines:
        sys.exit(1)
    click.echo("no differences")
