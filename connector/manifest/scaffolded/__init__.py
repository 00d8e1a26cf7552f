"""HTTP mappings of scaffolded operations: a module each, exporting ``TRIGGER_REQUEST``
(``(key, HttpRequest)``) or ``ACTION_HTTP`` (``(key, {...})``, like ``operations.ACTIONS``)."""
