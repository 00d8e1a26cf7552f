"""``mxguard export zapier``: a Zapier Platform CLI project, from the manifests only.

The cookiecutter template ``templates/zapier`` holds what never changes: ``lib/runtime.js`` (which
turns manifests into a Zapier app at load time), ``package.json``, ``index.js`` and a README. This
module adds the manifests themselves, with the chosen base URL, so the JavaScript reads the same
documents the manifest runner (``connector/manifest/runner.py``) does and no operation is
translated twice.

A trigger whose manifest has ``instant`` also becomes a REST hook trigger (key ``instant.key``)
that subscribes through the MxGuard bridge the connector manifest's ``bridge`` section describes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel

from connector.errors import ExportError
from connector.export.common import Bundle, render_template, write_json
from connector.manifest.format import FORMAT_VERSION, Operation

PACKAGE_NAME = "mxguard-zapier"
CORE_VERSION = "19.1.0"
"""zapier-platform-core, pinned exactly: Zapier runs an app on the core version it declares."""

POLL_MAX_PAGES = 4
"""Pages one poll reads at most: 4 of 500 is the newest 2,000 items, 4 requests (of 60 a minute)."""
POLL_WINDOW_S = 3600
"""Only items from the last hour: a quiet account costs one request per poll, and the longest
Zapier interval (15 min) plus the lateness bound (120 s) fits in it three times over."""
POLL_DEADLINE_S = 20
"""No new page is started after this many seconds, inside Zapier's 30 s per poll."""
SAMPLE_SIZE = 3
"""The Zap editor uses three samples."""

ZAPIER_GROUPS = {
    "trigger": "triggers",
    "create": "creates",
    "update": "creates",
    "delete": "creates",
    "search": "searches",
}


def poll_bound(operation: Operation) -> int:
    """Items one poll of this trigger can return: beyond that, a burst loses its oldest items."""
    assert operation.pagination is not None
    return POLL_MAX_PAGES * operation.pagination.max_limit


def export(bundle: Bundle, out: Path) -> Path:
    """Write the Zapier project to ``out``; returns it."""
    _check(bundle)
    names = [_manifest_name(op) for op in bundle.operations]
    context: dict[str, Any] = {
        "package_name": PACKAGE_NAME,
        "label": bundle.connector.label,
        "description": bundle.connector.description,
        "version": bundle.connector.version,
        "base_url": bundle.base_url,
        "core_version": CORE_VERSION,
        "poll_max_pages": POLL_MAX_PAGES,
        "poll_bound": max((poll_bound(op) for op in bundle.triggers), default=0),
        "poll_window_s": POLL_WINDOW_S,
        "poll_deadline_s": POLL_DEADLINE_S,
        "lateness_s": max((_lateness(op) for op in bundle.triggers), default=0),
        "sample_size": SAMPLE_SIZE,
        "manifests": {
            "files": names,
            "operations": [
                {"key": op.key, "label": op.label, "zapier": ZAPIER_GROUPS[op.kind]}
                for op in bundle.operations
            ],
            "instant": [
                {"key": op.instant.key, "label": op.instant.label, "trigger": op.key}
                for op in bundle.triggers
                if op.instant is not None
            ],
        },
    }
    made = render_template("zapier", out, context)
    connector = bundle.connector.model_copy(update={"base_url": bundle.base_url})
    write_json(made / "manifests" / "connector.json", _document(connector))
    for op, name in zip(bundle.operations, names, strict=True):
        write_json(made / "manifests" / f"{name}.json", _document(op))
    return made


def _lateness(operation: Operation) -> int:
    assert operation.polling is not None
    return round(operation.polling.lateness_bound_s)


def _manifest_name(operation: Operation) -> str:
    return f"{'triggers' if operation.kind == 'trigger' else 'actions'}/{operation.key}"


def _document(model: BaseModel) -> Any:
    """As ``manifests/`` stores them: absent means "not set", so the runtime sees defaults."""
    return model.model_dump(mode="json", exclude_none=True)


def _check(bundle: Bundle) -> None:
    """Refuse what the runtime does not understand, rather than export a broken app."""
    versions = {bundle.connector.format_version} | {op.format_version for op in bundle.operations}
    if versions != {FORMAT_VERSION}:
        raise ExportError(
            f"manifest format {sorted(versions)}; the exporter reads {FORMAT_VERSION}"
        )
    hidden = {f"list_{source.key}" for source in bundle.connector.list_sources}
    clash = hidden & {op.key for op in bundle.operations}
    if clash:
        raise ExportError(f"operation keys {sorted(clash)} clash with Zapier dropdown triggers")
    for op in bundle.operations:
        if op.kind == "trigger" and (op.pagination is None or op.polling is None):
            raise ExportError(f"trigger {op.key}: a Zapier trigger needs pagination and polling")
    # Hook triggers share Zapier's `triggers` with the polling ones and the dropdown sources.
    taken = hidden | {op.key for op in bundle.operations}
    for op in bundle.operations:
        if op.instant is None:
            continue
        if op.kind != "trigger" or bundle.connector.bridge is None:
            raise ExportError(f"{op.key}: an instant version needs a trigger and connector.bridge")
        if op.instant.key in taken:
            raise ExportError(f"instant trigger key {op.instant.key!r} is already used")
        taken.add(op.instant.key)
