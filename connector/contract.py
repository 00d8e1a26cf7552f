"""The contract file ``manifests/openapi.json``: write it, check it, compare it with another.

``diff`` turns the day MxGuard publishes its official ``openapi.json`` into a short checklist:
operations, parameters and fields that one document has and the other lacks.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sandbox.app import create_app
from sandbox.openapi import render
from sandbox.settings import SandboxSettings


def generated_spec() -> dict[str, Any]:
    spec: dict[str, Any] = create_app(SandboxSettings(seed="empty")).openapi()
    return spec


def write(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render(generated_spec()), encoding="utf-8")


def drift(path: Path) -> str | None:
    """``None`` when the file is what the code generates, else what is wrong."""
    if not path.exists():
        return f"{path} does not exist; run 'mxguard contract write'"
    if path.read_text(encoding="utf-8") != render(generated_spec()):
        return (
            f"{path} differs from the contract the sandbox code defines; "
            "run 'mxguard contract write'"
        )
    return None


def _operations(spec: dict[str, Any]) -> dict[str, dict[str, Any]]:
    methods = {"get", "post", "put", "patch", "delete"}
    return {
        f"{method.upper()} {path}": operation
        for path, item in spec.get("paths", {}).items()
        for method, operation in item.items()
        if method in methods
    }


def _schema_fields(spec: dict[str, Any]) -> dict[str, set[str]]:
    schemas = spec.get("components", {}).get("schemas", {})
    return {name: set(schema.get("properties", {})) for name, schema in schemas.items()}


def diff(ours: dict[str, Any], theirs: dict[str, Any]) -> list[str]:
    """Differences as short lines: ``-`` only in ours, ``+`` only in theirs, ``~`` changed."""
    lines: list[str] = []
    our_ops, their_ops = _operations(ours), _operations(theirs)
    lines += [f"- operation {op}" for op in sorted(our_ops.keys() - their_ops.keys())]
    lines += [f"+ operation {op}" for op in sorted(their_ops.keys() - our_ops.keys())]
    for op in sorted(our_ops.keys() & their_ops.keys()):
        mine = {p["name"] for p in our_ops[op].get("parameters", [])}
        other = {p["name"] for p in their_ops[op].get("parameters", [])}
        lines += [f"- parameter {op} {name}" for name in sorted(mine - other)]
        lines += [f"+ parameter {op} {name}" for name in sorted(other - mine)]
        statuses = set(our_ops[op].get("responses", {})), set(their_ops[op].get("responses", {}))
        if statuses[0] != statuses[1]:
            lines.append(f"~ responses {op}: {sorted(statuses[0])} -> {sorted(statuses[1])}")
    our_schemas, their_schemas = _schema_fields(ours), _schema_fields(theirs)
    for name in sorted(our_schemas.keys() & their_schemas.keys()):
        lines += [f"- field {name}.{f}" for f in sorted(our_schemas[name] - their_schemas[name])]
        lines += [f"+ field {name}.{f}" for f in sorted(their_schemas[name] - our_schemas[name])]
    lines += [f"- schema {name}" for name in sorted(our_schemas.keys() - their_schemas.keys())]
    lines += [f"+ schema {name}" for name in sorted(their_schemas.keys() - our_schemas.keys())]
    return lines


def load(path: Path) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return document
