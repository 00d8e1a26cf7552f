"""Write, load and check the manifests under ``manifests/``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema

from connector.manifest.build import generated_files
from connector.manifest.format import Connector, Operation

DEFAULT_DIR = Path("manifests")


def write(directory: Path = DEFAULT_DIR) -> list[Path]:
    written = []
    for relative, text in generated_files().items():
        target = directory / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
        written.append(target)
    return written


def problems(directory: Path = DEFAULT_DIR) -> list[str]:
    """Everything wrong with the manifests on disk: invalid, stale, missing or stray files."""
    found: list[str] = []
    expected = generated_files()
    schema_path = directory / "manifest.schema.json"
    schema = json.loads(schema_path.read_text()) if schema_path.exists() else None
    for relative, text in expected.items():
        path = directory / relative
        if not path.exists():
            found.append(f"{path}: missing; run 'mxguard manifests build'")
            continue
        on_disk = path.read_text(encoding="utf-8")
        kind = "Connector" if relative.name == "connector.json" else "Operation"
        if relative.name != "manifest.schema.json" and schema is not None:
            validator = jsonschema.Draft202012Validator(
                {"$ref": f"#/$defs/{kind}", "$defs": schema["$defs"]}
            )
            for error in validator.iter_errors(json.loads(on_disk)):
                where = "/".join(str(p) for p in error.absolute_path) or "(document)"
                found.append(f"{path}: {where}: {error.message}")
        if on_disk != text:
            found.append(
                f"{path}: differs from what the code generates; run 'mxguard manifests build'"
            )
    for kind in ("triggers", "actions"):
        for path in sorted((directory / kind).glob("*.json")):
            if path.relative_to(directory) not in expected:
                found.append(f"{path}: no such operation in the code; remove it")
    return found


def load_connector(directory: Path) -> Connector:
    return Connector.model_validate_json((directory / "connector.json").read_text())


def load_operations(directory: Path) -> list[Operation]:
    """Triggers first, then actions, in the order ``connector.json`` lists them."""
    connector = load_connector(directory)
    return [
        Operation.model_validate_json((directory / kind / f"{key}.json").read_text())
        for kind, keys in (("triggers", connector.triggers), ("actions", connector.actions))
        for key in keys
    ]


def load_raw(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))
