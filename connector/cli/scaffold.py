"""``mxguard scaffold trigger|action NAME``: a new operation, its test and manifest."""

from __future__ import annotations

from pathlib import Path

import click

from connector import registry
from connector.errors import ScaffoldError


@click.command(short_help="Create a new trigger or action.")
@click.argument("kind", type=click.Choice(["trigger", "action"]))
@click.argument("name")
@click.option(
    "--root",
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    default=Path("."),
    show_default=True,
    help="The project checkout.",
)
def scaffold(kind: str, name: str, root: Path) -> None:
    """Create a new trigger or action NAME: its module, its test, its manifest."""
    from connector.manifest import files
    from connector.scaffold import scaffold as make

    try:
        written = make(kind, name, root)  # type: ignore[arg-type]
    except ScaffoldError as problem:
        raise click.UsageError(problem.message) from problem
    for path in written:
        click.echo(f"wrote {path}")
    registry.triggers.cache_clear()
    registry.actions.cache_clear()
    for path in files.write(root / "manifests"):
        click.echo(f"wrote {path}")
    test = next(path for path in written if path.name.startswith("test_"))
    click.echo(f"next: edit them, then run pytest {test}")
