"""``mxguard scaffold trigger|action NAME``: a new operation from a cookiecutter template.

It writes one module (the definition: inputs, request, repeat rule, sample) where the built-in
operations live (``triggers/polling/``, ``actions/search/``) and a test against the sandbox, then
the CLI rebuilds the manifests. The result passes the test suite unedited.
"""

from __future__ import annotations

import re
import shutil
import tempfile
from pathlib import Path
from typing import Literal

from cookiecutter.main import cookiecutter

from connector import registry
from connector.errors import ScaffoldError as ScaffoldError
from connector.export.common import TEMPLATES

NAME = re.compile(r"^[a-z][a-z0-9_]{2,48}$")
Kind = Literal["trigger", "action"]
FOLDERS: dict[Kind, str] = {"trigger": "triggers/polling", "action": "actions/search"}
"""Where a new operation goes: beside the built-in ones of its kind."""


def check_name(kind: Kind, name: str) -> str:
    key = registry.normalize(name)
    if not NAME.match(key) or key.endswith("_") or "__" in key:
        raise ScaffoldError(
            f"{name!r}: use 3-49 lower-case letters, digits and single underscores, starting "
            "with a letter (e.g. new_sender_rule)"
        )
    if key in registry.triggers() or key in registry.actions():
        raise ScaffoldError(f"{key!r} exists already; choose another name")
    return key


def scaffold(kind: Kind, name: str, root: Path) -> list[Path]:
    """Render the template into ``root`` (a project checkout); returns the files written."""
    key = check_name(kind, name)
    if not (root / "manifests").is_dir() or not (root / FOLDERS[kind]).is_dir():
        raise ScaffoldError(f"{root} is not the project's root folder; run scaffold from there")
    context = {
        "folder": "scaffold",
        "name": key,
        "label": " ".join(word.capitalize() for word in key.split("_")),
        "class_name": "".join(word.capitalize() for word in key.split("_")),
    }
    with tempfile.TemporaryDirectory() as staging:
        made = Path(
            cookiecutter(
                str(TEMPLATES / f"scaffold_{kind}"),
                no_input=True,
                output_dir=staging,
                extra_context=context,
            )
        )
        sources = sorted(p for p in made.rglob("*") if p.is_file())
        targets = [root / p.relative_to(made) for p in sources]
        clashes = [str(t) for t in targets if t.exists()]
        if clashes:
            raise ScaffoldError(f"would overwrite {', '.join(clashes)}")
        for source, target in zip(sources, targets, strict=True):
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target)
    return targets
