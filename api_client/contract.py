"""The facts of MxGuard's API v1 that more than one module needs: one home for each.

The client, the triggers, the manifests, the exporters and the sandbox (which enforces them on
the server's side) all read these, so a change of the contract is one edit here.
"""

from __future__ import annotations

DEFAULT_BASE_URL = "https://app.mxguard.uk"
API_PREFIX = "/api/v1"

MAX_PAGE_SIZE = 500
"""The largest ``limit`` a listing takes."""
DEFAULT_PAGE_SIZE = 50
"""The ``limit`` a listing uses when none is given."""

DEFAULT_PER_MINUTE = 60
"""Requests a token may make in any 60 s (MxGuard raises it on request)."""
DEFAULT_PER_HOUR = 600
"""Requests a token may make in any hour."""

NOTE_MAX_LENGTH = 500
"""The longest note a sender rule takes."""

LATENESS_BOUND_S = 120.0
"""How late after its timestamp an item can become visible, at most."""

MICROS = 1_000_000
"""Microseconds a second: timestamps are kept as integer microseconds since the epoch."""

HOST_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
"""One label of a host name: 1-63 letters, digits or hyphens, no hyphen at either end."""
TOP_LABEL = r"[A-Za-z](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
"""The last label also starts with a letter."""
HOST_NAME = rf"(?:{HOST_LABEL}\.)+{TOP_LABEL}"
"""A host name as the API takes it: ASCII (IDNs as punycode), at least two labels."""
LOCAL_PART = r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}"
"""The part of a sender address before the ``@``."""
OBJECT_ID = r"[A-Za-z0-9_-]{1,128}"
"""An id of the API's objects."""
