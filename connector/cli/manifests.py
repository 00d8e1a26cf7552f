"""``mxguard manifests build|check``: the platform-neutral manifests."""

from __future__ import annotations

from pathlib import Path

import click

MANIFESTS_DIR = click.option(
    "--dir",
    "directory",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("manifests"),
    show_default=True,
)


@click.group(name="manifests", short_help="Build and check the platform-neutral manifests.")
def manifests_group() -> None:
    """Platform-neutral manifests of every trigger and action (manifests/)."""


@manifests_group.command(name="build")
@MANIFESTS_DIR
def manifests_build(directory: Path) -> None:
    """Generate the manifests and their JSON Schema from the Python definitions."""
    from connector.manifest import files

    for path in files.write(directory):
        click.echo(f"wrote {path}")


@manifests_group.command(name="check")
@MANIFESTS_DIR
def manifests_check(directory: Path) -> None:
    """Fail when a manifest is invalid against the schema or differs from what the code makes."""
    from connector.manifest import files

    found = files.problems(directory)
    for problem in found:
        click.echo(problem, err=True)
    if found:
        raise click.ClickException(f"{len(found)} problem(s) in {directory}")
    click.echo(f"{directory}: manifests valid and up to date")
