"""Small builders of IML expressions, shared by the Make exporter's files.

The exporter keeps the IML it writes to a handful of forms (paths, literals, ``==``/``!=``,
``&&``/``||``/``!``, and the functions ``lower``, ``ifempty``, ``contains``, ``map``, ``first``,
``addDays``) so that ``tests/engines/make_iml.py`` can evaluate every file honestly.
"""

from __future__ import annotations

import json
import re
from typing import Any

from connector.manifest.format import InputField, Operation, Param

PATH_VAR = re.compile(r"\{(\w+)\}")


def camel(key: str) -> str:
    """Make's component and parameter names are letters and digits: ``new_verdict`` →
    ``newVerdict``."""
    head, *rest = key.split("_")
    return head + "".join(part.capitalize() for part in rest)


def wrap(expr: str) -> str:
    """One IML expression as a JSON string value: Make keeps its type when it stands alone."""
    return "{{" + expr + "}}"


def literal(value: Any) -> str:
    """A constant inside an expression: strings in single quotes, numbers and booleans as is."""
    if isinstance(value, str):
        return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
    if value is None:
        return "null"
    return json.dumps(value)


def param_ref(field: InputField) -> str:
    """The value a module sends for an input: its default applies when the field is left empty."""
    ref = f"parameters.{field.key}"
    return ref if field.default is None else f"ifempty({ref}, {literal(field.default)})"


def normal_ref(field: InputField) -> str:
    """The input as the API stores it, for comparisons: host names compare in lower case."""
    ref = param_ref(field)
    return f"lower({ref})" if field.format == "hostname" else ref


def field_of(op: Operation, key: str) -> InputField:
    return next(f for f in op.inputs if f.key == key)


def param_value(op: Operation, param: Param) -> Any:
    """A request value: an input, a constant, or now minus an input's days."""
    if param.input is not None:
        return wrap(param_ref(field_of(op, param.input)))
    if param.days_ago_input is not None:
        return wrap(f"addDays(now, -{param_ref(field_of(op, param.days_ago_input))})")
    return param.value


def url_of(op: Operation, path: str) -> str:
    """``/domains/{domain}`` → ``/domains/{{parameters.domain}}`` (Make encodes the URL)."""
    return PATH_VAR.sub(lambda m: wrap(f"parameters.{m.group(1)}"), path)


def fill(template: str, known: dict[str, str]) -> str:
    """A manifest message with ``{name}`` placeholders as IML text, from ``known`` expressions."""
    return PATH_VAR.sub(lambda m: wrap(known[m.group(1)]), template)
