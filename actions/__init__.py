"""Actions and searches: validated inputs and a described request each (``actions/<kind>/``)."""

from actions.base import ActionConflictError, ActionDefinition

__all__ = ["ActionConflictError", "ActionDefinition"]
