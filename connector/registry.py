"""Every trigger and action by name; names are accepted in snake_case and kebab-case."""

from __future__ import annotations

from typing import Any

from actions import ACTIONS, ActionDefinition
from triggers import TRIGGERS
from triggers.base import TriggerDefinition


def normalize(name: str) -> str:
    return name.strip().lower().replace("-", "_")


def kebab(name: str) -> str:
    return name.replace("_", "-")


def trigger(name: str) -> TriggerDefinition[Any] | None:
    return TRIGGERS.get(normalize(name))


def action(name: str) -> ActionDefinition[Any] | None:
    return ACTIONS.get(normalize(name))
