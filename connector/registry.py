"""Every trigger and action by name, found where they live: one module per operation.

Triggers are the modules of ``triggers/polling/`` (each defining ``TRIGGER``); actions are those
of ``actions/create/``, ``update/``, ``delete/`` and ``search/`` (each defining ``ACTION``).
``mxguard scaffold`` writes a new operation into the same folders, so a new operation is one
module (and its test) and nothing else. Names are accepted in snake_case and kebab-case.
"""

from __future__ import annotations

import importlib
import pkgutil
from functools import cache
from typing import Any

from actions import ActionDefinition
from triggers.base import TriggerDefinition

TRIGGER_PACKAGES = ("triggers.polling",)
ACTION_PACKAGES = ("actions.create", "actions.update", "actions.delete", "actions.search")
"""In the order operations are listed: by kind, then by name."""


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
    found = [t for package in TRIGGER_PACKAGES for t in collect(package, "TRIGGER")]
    return {t.key: t for t in found}


@cache
def actions() -> dict[str, ActionDefinition[Any]]:
    found = [a for package in ACTION_PACKAGES for a in collect(package, "ACTION")]
    return {a.key: a for a in found}


def normalize(name: str) -> str:
    return name.strip().lower().replace("-", "_")


def kebab(name: str) -> str:
    return name.replace("_", "-")


def trigger(name: str) -> TriggerDefinition[Any] | None:
    return triggers().get(normalize(name))


def action(name: str) -> ActionDefinition[Any] | None:
    return actions().get(normalize(name))
