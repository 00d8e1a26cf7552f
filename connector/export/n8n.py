"""``mxguard export n8n``: the community node package ``n8n-nodes-mxguard``, from the manifests.

The cookiecutter template (``connector/templates/n8n``) holds the TypeScript engine, the same for
every API: requests, input checks, repeat rules, and the trigger's cursor (a port of
``triggers/cursor.py``). This module only turns the manifests into what the template inserts:
node descriptions for n8n's editor and linter, and the operation specs the engine runs. Triggers
with an instant version also get a webhook trigger node (``MxGuardInstantTrigger``) that
subscribes at the bridge named in the credential (``connector.bridge``); without any, the package
has no such node and the credential no bridge URL. The
template also holds what publishing needs: package metadata, codex files and a GitHub Actions
workflow that publishes with npm provenance (``docs/export-n8n.md``, "Publish to npm").
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from connector.errors import ExportError
from connector.export import n8n_properties as props
from connector.export import n8n_spec as spec
from connector.export.common import Bundle, render_template
from connector.export.n8n_ts import literal, string

PACKAGE = "n8n-nodes-mxguard"
INSTANT_NODE = "MxGuardInstantTrigger"
"""The webhook trigger node's folder: left out when no trigger has an instant version."""
REPOSITORY = "https://github.com/mxguard/n8n-nodes-mxguard"
"""The public GitHub repository the package is published from (``repository`` in package.json).

npm's provenance check and n8n's verification compare it with the repository whose workflow
publishes the package, so the export must be the root of this repository when it is published."""


def _load_options(methods: list[tuple[str, str, bool]]) -> str:
    """The loadOptions methods of one node, as class members (tabs as in the template)."""
    blocks = []
    for name, source, with_any in methods:
        call = f"listOptions(this, LIST_SOURCES[{string(source)}])"
        body = f"[{{ name: 'Any', value: '' }}, ...(await {call})]" if with_any else f"await {call}"
        blocks.append(
            f"\t\t\tasync {name}(this: ILoadOptionsFunctions): Promise<INodePropertyOptions[]> {{\n"
            f"\t\t\t\treturn {body};\n"
            "\t\t\t},"
        )
    return "\n".join(blocks)


def _credential(bundle: Bundle) -> dict[str, str]:
    auth = bundle.connector.auth
    token = spec.camel(auth.field.key)
    test = bundle.connector.connection_test.request
    return {
        "token_property": literal(
            {
                "displayName": props.title(auth.field.label),
                "name": token,
                "type": "string",
                "typeOptions": {"password": True},
                "required": True,
                "default": "",
                "description": props.describe(auth.field.help),
            },
            2,
        ),
        "base_url": string(bundle.base_url),
        "authenticate": literal(
            {
                "type": "generic",
                "properties": {
                    "headers": {auth.header: f"={auth.scheme} {{{{$credentials.{token}}}}}"}
                },
            },
            1,
        ),
        "test": literal(
            {
                "request": {
                    "baseURL": "={{$credentials.baseUrl}}",
                    "url": test.path,
                    "method": test.method,
                }
            },
            1,
        ),
    }


def _instant(bundle: Bundle) -> dict[str, Any] | None:
    """The instant trigger's snippets, or None when no trigger has an instant version (the
    package then has no instant node and the credential no bridge URL)."""
    triggers = [op for op in bundle.triggers if op.instant is not None]
    if not triggers:
        return None
    bridge = bundle.connector.bridge
    if bridge is None:
        raise ExportError("triggers have instant versions but connector.json has no bridge")
    label = bundle.connector.label
    return {
        "event_labels": [spec.instant_of(op).label for op in triggers],
        "description": string(
            f"Starts the workflow as soon as a {label} bridge pushes a new item: "
            + ", ".join(op.label.lower() for op in triggers)
        ),
        "properties": literal(props.instant_properties(triggers), 2),
        "load_options": _load_options(props.load_methods(triggers)),
        "events": literal(
            {spec.camel(spec.instant_of(op).key): spec.instant_event(op) for op in triggers}
        ),
        "bridge": literal(spec.bridge(bridge)),
        "bridge_property": literal(props.bridge_url_property(bridge.url_field), 2),
    }


def _repository(url: str) -> str:
    url = url.rstrip("/").removesuffix(".git")
    if not url.startswith("https://github.com/") or url.count("/") != 4:
        raise ExportError(f"repository must be https://github.com/OWNER/NAME, not {url!r}")
    return url


def context(bundle: Bundle, repository: str = REPOSITORY) -> dict[str, Any]:
    """Everything the template inserts, as finished TypeScript snippets (strings)."""
    connector = bundle.connector
    actions, triggers = bundle.actions, bundle.triggers
    everything = actions + triggers
    return {
        "package": PACKAGE,
        "version": connector.version,
        "label": connector.label,
        "package_description": connector.description,
        "homepage": connector.base_url,
        "repository": _repository(repository),
        "operation_list": [
            {"noun": props.title(op.noun), "label": op.label, "on_repeat": op.on_repeat or ""}
            for op in actions
        ],
        "event_labels": [op.label for op in triggers],
        "description": string(connector.description),
        "trigger_description": string(
            f"Starts the workflow on new {connector.label} items: "
            + ", ".join(op.label.lower() for op in triggers)
        ),
        "action_properties": literal(props.action_properties(actions), 2),
        "trigger_properties": literal(props.trigger_properties(triggers), 2),
        "action_load_options": _load_options(props.load_methods(actions)),
        "trigger_load_options": _load_options(props.load_methods(triggers)),
        "actions": literal({spec.camel(op.key): spec.operation(op) for op in actions}),
        "events": literal({spec.camel(op.key): spec.operation(op) for op in triggers}),
        "list_sources": literal(spec.list_sources(connector, everything)),
        "instant": _instant(bundle),
        **_credential(bundle),
    }


def export(bundle: Bundle, out: Path, repository: str = REPOSITORY) -> Path:
    """Write the package's sources to ``out``; ``n8n-node build`` turns them into ``dist/``.

    ``repository`` is the GitHub repository the package is published from (see ``REPOSITORY``).
    """
    values = context(bundle, repository)
    made = render_template("n8n", out, {"_n8n": values})
    if values["instant"] is None:
        shutil.rmtree(made / "nodes" / INSTANT_NODE)
        (made / "nodes" / "shared" / "bridge.ts").unlink()
    # The template keeps the publish workflow under github/: package data globs skip hidden
    # folders, so a .github folder in the template would be missing from an installed wheel.
    (made / "github").rename(made / ".github")
    return made
