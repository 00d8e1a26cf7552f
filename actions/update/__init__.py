"""Actions that change an object: a module each, defining ``ACTION``."""
