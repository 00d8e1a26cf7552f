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

LATENESS_BOUND_S = 120.0
"""How late after its timestamp an item can become visible, at most."""

MICROS = 1_000_000
"""Microseconds a second: timestamps are kept as integer microseconds since the epoch."""
