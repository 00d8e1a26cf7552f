"""Every trigger and action by name: the built-in ones and those made with ``mxguard scaffold``.

Names are accepted in snake_case and kebab-case. Scaffolded operations live in
``triggers/scaffolded/`` and ``actions/scaffolded/`` (a module each, exporting ``TRIGGER`` or
``ACTION``), with their HTTP mapping in ``connector/manifest/scaffolded/``.
"""

from __future__ import annotations

import importlib
import pkgutil
from functools import cache
from typing import Any

from actions import ACTIONS as BUILT_IN_ACTIONS
from actions import ActionDefinition
from triggers import TRIGGERS as BUILT_IN_TRIGGERS
from triggers.base import TriggerDefinition


def collect(package: str, attribute: str) -> list[Any]:
    """``attribute`` of every module in ``package``, in module-name order."""
    found = []
    importlib.invalidate_caches()
    module = importlib.import_module(package)
    for info in sorted(pkgutil.iter_modules(module.__path__), key=lambda i: i.name):
        child = importlib.import_module(f"{package}.{info.name}")
        if hasattr(child, attribute):
            found.append(getattr(child, attribute))
    return found


@cache
def triggers() -> dict[str, TriggerDefinition[Any]]:
    extra = {t.key: t for t in collect("triggers.scaffolded", "TRIGGER")}
    return {**BUILT_IN_TRIGGERS, **extra}


@cache
def actions() -> dict[str, ActionDefinition[Any]]:
    extra = {a.key: a for a in collect("actions.scaffolded", "ACTION")}
    return {**BUILT_IN_ACTIONS, **extra}


def normalize(name: str) -> str:
    return name.strip().lower().replace("-", "_")


def kebab(name: str) -> str:
    return name.replace("_", "-")


def trigger(name: str) -> TriggerDefinition[Any] | None:
    return triggers().get(normalize(name))


def action(name: str) -> ActionDefinition[Any] | None:
    return actions().get(normalize(name))
