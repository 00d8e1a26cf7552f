"""``mxguard contract write|check|diff``: the API contract, manifests/openapi.json."""

from __future__ import annotations

from pathlib import Path

import click

SPEC_PATH = Path("manifests") / "openapi.json"
PATH = click.option("--path", type=click.Path(path_type=Path), default=SPEC_PATH, show_default=True)


@click.group(name="contract")
def contract_group() -> None:
    """The API contract, manifests/openapi.json."""


@contract_group.command(name="write")
@PATH
def contract_write(path: Path) -> None:
    """Regenerate the contract file from the sandbox's definitions."""
    from connector import contract

    contract.write(path)
    click.echo(f"wrote {path}")


@contract_group.command(name="check")
@PATH
def contract_check(path: Path) -> None:
    """Fail when the contract file drifted from the code."""
    from connector import contract

    problem = contract.drift(path)
    if problem:
        raise click.ClickException(problem)
    click.echo(f"{path} is up to date")


@contract_group.command(name="diff")
@click.argument("published", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@PATH
@click.pass_context
def contract_diff(ctx: click.Context, published: Path, path: Path) -> None:
    """Compare our contract with a published openapi.json; exit 1 when they differ."""
    from connector import contract

    lines = contract.diff(contract.load(path), contract.load(published))
    for line in lines:
        click.echo(line)
    if lines:
        ctx.exit(1)
    click.echo("no differences")
