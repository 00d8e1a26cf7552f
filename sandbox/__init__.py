"""A local, stateful MxGuard API v1 built from the project's contract.

The real API is not open yet, so the demo, the tests and the benchmarks talk to this server over
real HTTP. ``create_app`` builds the FastAPI application; ``SandboxServer`` runs it on a loopback
port in a background thread; ``mxguard sandbox`` runs it in the foreground.
"""

from sandbox.app import create_app
from sandbox.server import SandboxServer
from sandbox.settings import SandboxSettings

__all__ = ["SandboxServer", "SandboxSettings", "create_app"]
