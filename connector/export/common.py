"""What every exporter shares: the manifests it reads, and its cookiecutter template."""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cookiecutter.main import cookiecutter

from connector.errors import ExportFolderError, ExportOptionError
from connector.manifest.files import load_connector, load_operations
from connector.manifest.format import Connector, Operation

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"


@dataclass(frozen=True)
class Bundle:
    """Everything an exporter may read: the manifests, and the base URL to build against."""

    connector: Connector
    operations: list[Operation]
    base_url: str

    @property
    def triggers(self) -> list[Operation]:
        return [op for op in self.operations if op.kind == "trigger"]

    @property
    def actions(self) -> list[Operation]:
        return [op for op in self.operations if op.kind != "trigger"]


def load_bundle(manifests: Path, base_url: str | None) -> Bundle:
    connector = load_connector(manifests)
    url = (base_url or connector.base_url).rstrip("/")
    if not url.startswith(("https://", "http://")):
        raise ExportOptionError(
            f"--base-url must start with https:// or http://, not {url!r}", param="--base-url"
        )
    return Bundle(connector, load_operations(manifests), url)


def render_template(platform: str, out: Path, context: dict[str, Any]) -> Path:
    """Render ``templates/<platform>`` into ``out`` (replacing what an earlier export left)."""
    if out.exists():
        if not (out / ".mxguard-export").exists() and any(out.iterdir()):
            raise ExportFolderError(
                f"{out} exists and is not an earlier export; choose another --out", param="--out"
            )
        shutil.rmtree(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = out.parent / f".{out.name}.staging"
    shutil.rmtree(staging, ignore_errors=True)
    made = cookiecutter(
        str(TEMPLATES / platform),
        no_input=True,
        output_dir=str(staging),
        extra_context={"slug": "export", **context},
        overwrite_if_exists=True,
    )
    Path(made).rename(out)
    shutil.rmtree(staging, ignore_errors=True)
    (out / ".mxguard-export").write_text(f"{platform}\n")
    return out


def write_json(path: Path, document: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
