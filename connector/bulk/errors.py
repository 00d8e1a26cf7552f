"""What ``mxguard bulk apply`` raises about its own files: the input, the journal, the results.

A branch of the project's one error tree (``connector/errors.py``), with its exit codes in
``connector/exits.py`` like every other error. All but ``BulkError`` itself (a result file that
cannot be written at the end) are raised before any request is sent.
"""

from __future__ import annotations

from api_client.errors import MxGuardError


class BulkError(MxGuardError):
    """Base of the bulk errors: a bulk run's own files cannot be used."""


class BulkFileError(BulkError):
    """The input file cannot be used at all: missing, a folder, not UTF-8, not CSV or JSON lines
    that can be read, no ``op`` column, an unknown column, no rows."""


class InvalidRowsError(BulkError):
    """Some rows cannot be sent (each named by line and field); nothing was sent."""


class JournalError(BulkError):
    """The journal cannot be used: not a journal, unreadable, or in a folder that is not there."""


class JournalMismatchError(JournalError):
    """The journal belongs to another input file, server or token: resuming from it would skip
    rows that were never sent here."""


class JournalInUseError(BulkError):
    """Another process is applying this journal right now."""


class ResultsFileError(BulkError):
    """The result file cannot be written (its folder, or it is the input or the journal)."""
