"""Searches: a module each, defining ``ACTION`` (of kind ``search``, answering a list)."""
