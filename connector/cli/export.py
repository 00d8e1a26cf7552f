"""``mxguard export PLATFORM``: a native integration from the manifests."""

from __future__ import annotations

import importlib
import tempfile
from pathlib import Path

import click
from pydantic import ValidationError

from api_client.contract import DEFAULT_BASE_URL
from connector.errors import ExportOptionError

EXPORTERS = {
    "zapier": "connector.export.zapier",
    "make": "connector.export.make",
    "n8n": "connector.export.n8n",
}


@click.command()
@click.argument("platform", type=click.Choice(sorted(EXPORTERS)))
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="Folder to write the integration to (an earlier export there is replaced).",
)
@click.option(
    "--base-url",
    "api_url",
    metavar="URL",
    help=f"The API the integration calls [default: {DEFAULT_BASE_URL}].",
)
@click.option(
    "--manifests",
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    help="Manifests folder [default: ./manifests in a project checkout, else built afresh].",
)
def export(platform: str, out: Path, api_url: str | None, manifests: Path | None) -> None:
    """Export a native integration for PLATFORM from the manifests.

    An option that cannot work (--base-url, an --out that is not an earlier export) exits 2;
    manifests the platform cannot express exit 1, and nothing is written.
    """
    from connector.export.common import load_bundle
    from connector.manifest import files

    try:
        with tempfile.TemporaryDirectory() as scratch:
            if manifests is None:
                manifests = Path("manifests")
                if not (manifests / "connector.json").exists():
                    manifests = Path(scratch)
                    files.write(manifests)
            try:
                bundle = load_bundle(manifests, api_url)
            except ValidationError as problem:
                raise click.BadParameter(str(problem), param_hint="--manifests") from problem
        module = importlib.import_module(EXPORTERS[platform])
        written: Path = module.export(bundle, out)
    except ExportOptionError as problem:
        raise click.BadParameter(problem.message, param_hint=problem.param) from problem
    click.echo(f"{platform} integration written to {written}")
