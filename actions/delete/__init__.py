"""Actions that remove: a module each, defining ``ACTION``."""
