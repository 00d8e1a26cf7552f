"""The n8n node descriptions (resources, operations, events, fields) built from the manifests.

n8n's linter has house rules for text (title-case names, sentence-case actions, "ID" in capitals,
no final period on a one-sentence description); the manifests' help texts are adapted to them
here so the generated nodes pass ``n8n-node lint`` unchanged.
"""

from __future__ import annotations

import re
from typing import Any

from api_client.contract import DEFAULT_PER_HOUR, LATENESS_BOUND_S
from connector.errors import ExportError
from connector.export.n8n_spec import camel, default_trigger_budget, instant_of, param_name
from connector.manifest.format import ConnectionField, InputField, Operation
from triggers.cursor import BURST_FACTOR

SMALL_WORDS = {"a", "an", "and", "as", "at", "by", "for", "in", "of", "on", "or", "the", "to"}
ACRONYMS = {"id": "ID", "ids": "IDs", "mx": "MX", "url": "URL", "api": "API", "idn": "IDN"}
DYNAMIC_HELP = (
    "Choose from the list, or specify an ID using an "
    '<a href="https://docs.n8n.io/code/expressions/">expression</a>'
)
"""The wording n8n's linter requires for a dropdown filled from the API."""
SINCE_HELP = (
    "The first activation emits items from this time on (a backfill). Without it, the trigger "
    "starts at activation and emits only what arrives after. Read in the workflow's time zone "
    "unless the value has an offset."
)


BUDGET = round(default_trigger_budget())
BUDGET_HELP = (
    "How many requests an hour this trigger may make, its share of the token's "
    f"{DEFAULT_PER_HOUR}. Not set: {BUDGET}, which leaves {DEFAULT_PER_HOUR - BUDGET} for actions "
    f"and other workflows using the token. A poll spends at most {BURST_FACTOR} times its share "
    "of the hour and resumes where it stopped. When reading new items at every poll would need "
    "more, the trigger reads each stretch of time once, after its late items have arrived: items "
    f"then come out {LATENESS_BOUND_S / 60:.0f} minutes and one poll after their time."
)


def _word(word: str, first: bool) -> str:
    lower = word.lower()
    if lower in ACRONYMS:
        return ACRONYMS[lower]
    if not first and lower in SMALL_WORDS:
        return lower
    return word[:1].upper() + word[1:]


def title(text: str) -> str:
    """``Real MX host`` -> ``Real MX Host`` (display names)."""
    return " ".join(_word(w, i == 0) for i, w in enumerate(text.split()))


def sentence(text: str) -> str:
    """``Add Domain`` -> ``Add domain`` (operation actions)."""
    words = text.split()
    return " ".join(
        [words[0]] + [ACRONYMS.get(w.lower(), w if w.isupper() else w.lower()) for w in words[1:]]
    )


def describe(text: str) -> str:
    """Help text in n8n's style: capital first letter and acronyms, and a final period only
    after several sentences (the linter splits at ". ", not counting "e.g.")."""
    text = re.sub(
        r"\b(ids?|urls?)\b", lambda m: ACRONYMS.get(m[1].lower(), m[1].upper()), text.strip()
    )
    text = text[:1].upper() + text[1:]
    several = len(text.replace("e.g.", "").split(". ")) > 1
    if several and not text.endswith("."):
        return text + "."
    if not several and text.endswith("."):
        return text[:-1]
    return text


def value_of(text: str) -> str:
    """``Quarantined Message`` -> ``quarantinedMessage`` (option values)."""
    return camel("_".join(text.lower().split()))


def load_method(source: str, optional: bool) -> str:
    """The loadOptions method of a list source; optional fields get an "Any" entry first."""
    name = "get" + camel(source)[:1].upper() + camel(source)[1:]
    return name + "OrAny" if optional else name


def _options(values: list[str], optional: bool) -> list[dict[str, str]]:
    listed = sorted(({"name": title(v), "value": v} for v in values), key=lambda o: o["name"])
    return ([{"name": "Any", "value": ""}] if optional else []) + listed


def field(noun: str, f: InputField, show: dict[str, list[str]]) -> dict[str, Any]:
    """One manifest input as an n8n parameter, shown for one operation or event."""
    prop: dict[str, Any] = {"displayName": title(f.label), "name": param_name(noun, f.key)}
    optional = not f.required and f.default is None
    if f.dynamic is not None:
        prop["type"] = "options"
        prop["typeOptions"] = {"loadOptionsMethod": load_method(f.dynamic.source, optional)}
        prop["default"] = ""
    elif f.choices and f.multiple:
        prop.update(type="multiOptions", options=_options(f.choices, False), default=[])
    elif f.choices:
        default = f.default if f.default is not None else ("" if optional else f.choices[0])
        prop.update(type="options", options=_options(f.choices, optional), default=default)
    elif f.type in ("integer", "number"):
        if f.default is None:
            raise ExportError(f"{f.key}: a number input needs a default in n8n")
        limits = {"minValue": f.min, "maxValue": f.max}
        if f.type == "integer":
            limits["numberPrecision"] = 0
        prop.update(type="number", typeOptions={k: v for k, v in limits.items() if v is not None})
        prop["default"] = f.default
    elif f.type == "boolean":
        prop.update(type="boolean", default=bool(f.default))
    elif f.type == "datetime":
        prop.update(type="dateTime", default=f.default or "")
    else:
        prop.update(type="string", default=f.default or "")
    if f.required:
        prop["required"] = True
    prop["displayOptions"] = {"show": show}
    if f.dynamic is not None:
        prop["displayName"] = f"{title(f.label)} Name or ID"
        prop["description"] = f"{describe(f.help).rstrip('.')}. {DYNAMIC_HELP}."
    elif f.help:
        prop["description"] = describe(f.help)
    return prop


def action_properties(actions: list[Operation]) -> list[dict[str, Any]]:
    """Resource, then one operation dropdown per resource, then each operation's fields."""
    nouns = sorted({op.noun for op in actions})
    props: list[dict[str, Any]] = [
        {
            "displayName": "Resource",
            "name": "resource",
            "type": "options",
            "noDataExpression": True,
            "options": [{"name": n, "value": value_of(n)} for n in nouns],
            "default": value_of(nouns[0]),
        }
    ]
    for noun in nouns:
        ops = sorted((op for op in actions if op.noun == noun), key=lambda op: op.label)
        props.append(
            {
                "displayName": "Operation",
                "name": "operation",
                "type": "options",
                "noDataExpression": True,
                "displayOptions": {"show": {"resource": [value_of(noun)]}},
                "options": [
                    {
                        "name": op.label,
                        "value": camel(op.key),
                        "description": describe(op.description),
                        "action": sentence(op.label),
                    }
                    for op in ops
                ],
                "default": camel(ops[0].key),
            }
        )
    for op in actions:
        show = {"resource": [value_of(op.noun)], "operation": [camel(op.key)]}
        props += [field(op.noun, f, show) for f in op.inputs]
    return props


def event_property(choices: list[tuple[str, str, str]], default: str) -> dict[str, Any]:
    """A trigger node's Event option: one choice per (label, key, description)."""
    return {
        "displayName": "Event",
        "name": "event",
        "type": "options",
        "noDataExpression": True,
        "required": True,
        "options": [
            {"name": label, "value": camel(key), "description": describe(description)}
            for label, key, description in choices
        ],
        "default": camel(default),
    }


def trigger_properties(triggers: list[Operation]) -> list[dict[str, Any]]:
    """Event, the chosen event's filters, and the options: backfill and the hourly budget."""
    ordered = sorted(triggers, key=lambda op: op.label)
    props = [
        event_property(
            [(op.label, op.key, op.description) for op in ordered], default=triggers[0].key
        )
    ]
    for op in ordered:
        props += [field(op.noun, f, {"event": [camel(op.key)]}) for f in op.inputs]
    props.append(
        {
            "displayName": "Options",
            "name": "options",
            "type": "collection",
            "placeholder": "Add option",
            "default": {},
            "options": [
                {
                    "displayName": "Emit Items Since",
                    "name": "since",
                    "type": "dateTime",
                    "default": "",
                    "description": SINCE_HELP,
                },
                {
                    "displayName": "Requests per Hour",
                    "name": "requestsPerHour",
                    "type": "number",
                    "typeOptions": {"minValue": 1},
                    "default": BUDGET,
                    "description": BUDGET_HELP,
                },
            ],
        }
    )
    return props


def instant_properties(triggers: list[Operation]) -> list[dict[str, Any]]:
    """Event (one per trigger with an instant version) and the chosen event's filters, which are
    the polling trigger's inputs: the bridge applies them before it pushes an item."""
    ordered = sorted((op for op in triggers if op.instant is not None), key=lambda op: op.label)
    if not ordered:
        raise ExportError("no trigger has an instant version")
    instants = [instant_of(op) for op in ordered]
    props = [
        event_property([(i.label, i.key, i.description) for i in instants], default=instants[0].key)
    ]
    for op in ordered:
        show = {"event": [camel(instant_of(op).key)]}
        props += [field(op.noun, f, show) for f in op.inputs]
    return props


def bridge_url_property(url_field: ConnectionField) -> dict[str, Any]:
    """The credential's optional bridge URL: only the instant trigger reads it."""
    return {
        "displayName": title(url_field.label),
        "name": camel(url_field.key),
        "type": "string",
        "default": "",
        "description": describe(url_field.help),
    }


def load_methods(operations: list[Operation]) -> list[tuple[str, str, bool]]:
    """(method name, list source, with "Any") for every dropdown the operations' fields use."""
    found: dict[str, tuple[str, str, bool]] = {}
    for op in operations:
        for f in op.inputs:
            if f.dynamic is not None:
                optional = not f.required and f.default is None
                name = load_method(f.dynamic.source, optional)
                found[name] = (name, f.dynamic.source, optional)
    return [found[name] for name in sorted(found)]
