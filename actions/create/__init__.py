"""Actions that create: a module each, defining ``ACTION``."""
