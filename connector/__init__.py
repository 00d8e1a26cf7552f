"""What people run: the ``mxguard`` command line and what it needs."""

__version__ = "0.1.0"
