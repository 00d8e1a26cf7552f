"""TypeScript literals for the generated n8n nodes.

The n8n linter inspects node descriptions as written, so generated values are printed as
ordinary TypeScript (unquoted keys, single quotes, tabs) rather than embedded JSON.
"""

from __future__ import annotations

import re
from typing import Any

IDENTIFIER = re.compile(r"^[A-Za-z_$][A-Za-z0-9_$]*$")


def string(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("'", "\\'").replace("\n", "\\n")
    return f"'{escaped}'"


def literal(value: Any, level: int = 0) -> str:
    """``value`` as a TypeScript expression; nested lines indented by ``level`` tabs."""
    inner = "\t" * (level + 1)
    if value is None:
        return "undefined"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(int(value)) if float(value).is_integer() else repr(value)
    if isinstance(value, str):
        return string(value)
    if isinstance(value, list | tuple):
        if not value:
            return "[]"
        items = "".join(f"{inner}{literal(v, level + 1)},\n" for v in value)
        return "[\n" + items + "\t" * level + "]"
    if isinstance(value, dict):
        if not value:
            return "{}"
        items = "".join(
            f"{inner}{key if IDENTIFIER.match(key) else string(key)}: {literal(v, level + 1)},\n"
            for key, v in value.items()
        )
        return "{\n" + items + "\t" * level + "}"
    raise TypeError(f"no TypeScript literal for {type(value).__name__}")
