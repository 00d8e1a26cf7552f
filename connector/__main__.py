"""``python -m connector`` runs the ``mxguard`` command line."""

from connector.cli import entry

entry()
