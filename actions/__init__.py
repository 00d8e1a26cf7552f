"""Actions and searches: validated inputs, one job each against the shared client."""

from actions.base import ActionConflictError, ActionDefinition
from actions.definitions import ACTIONS

__all__ = ["ACTIONS", "ActionConflictError", "ActionDefinition"]
