"""Triggers made with ``mxguard scaffold trigger NAME``: each module defines ``TRIGGER``."""
