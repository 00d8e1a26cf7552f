"""The one client of the ``/_sandbox/`` simulation API, over real HTTP.

The tests, the benchmarks and ``mxguard demo`` drive a running sandbox through it: issue an
account (a customer with its own token, so its own rate budget), add verdicts (late ones too),
generate traffic, arm faults, count the requests a token spent, move and read the clock, revoke
tokens and reset. ``public`` calls the public API as one account, for checks on what a customer
sees. It knows only the sandbox's URL and admin token: the server may run in a thread
(``SandboxServer.simulation()``) or in a child process (``sandbox.launcher.SandboxProcess``).
"""

from __future__ import annotations

from dataclasses import dataclass
from types import TracebackType
from typing import Any, TypedDict, cast

import requests

from sandbox.timefmt import parse_to_us

ADMIN_TIMEOUT_S = 300.0
"""Per simulation call: one ``/traffic`` call of many verdicts holds the server for a while."""
PUBLIC_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class SandboxAccount:
    """A customer of the sandbox as the simulation API issued it: one token, so its own request
    count and rate budget. (Not the API's ``/me`` answer, ``api_client.models.Account``.)"""

    customer_id: str
    token_id: str
    token: str


class RequestsServed(TypedDict):
    """Public API requests the sandbox counted for one token."""

    total: int
    by_path: dict[str, int]
    by_status: dict[str, int]
    """Answers by status code (as text): e.g. ``{"200": 57, "429": 0}``."""


class SimulationError(RuntimeError):
    """A simulation call answered with an unexpected status."""

    def __init__(self, method: str, path: str, status: int, text: str) -> None:
        super().__init__(f"{method} /_sandbox{path}: {status} {text}")
        self.status = status


class SimulationClient:
    """The ``/_sandbox/`` API of one running sandbox; a context manager (closes its session)."""

    def __init__(self, base_url: str, admin_token: str, timeout: float = ADMIN_TIMEOUT_S) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {admin_token}"

    # -- the raw call ---------------------------------------------------------------------

    def call(self, method: str, path: str, json: Any = None, expect: int | None = None) -> Any:
        """One simulation call; its JSON answer (None when empty). Any status of 400 or more
        raises, unless it is the ``expect``-ed one; with ``expect``, any other status raises."""
        response = self.session.request(
            method, f"{self.base_url}/_sandbox{path}", json=json, timeout=self.timeout
        )
        failed = response.status_code != expect if expect is not None else not response.ok
        if failed:
            raise SimulationError(method, path, response.status_code, response.text)
        return response.json() if response.content else None

    def public(
        self,
        account: SandboxAccount | str,
        method: str,
        path: str,
        json: Any = None,
    ) -> requests.Response:
        """A public API call (``/api/v1`` + ``path``) with an account's token (or a token)."""
        token = account if isinstance(account, str) else account.token
        return requests.request(  # not the admin session: a connection of the customer's own
            method,
            f"{self.base_url}/api/v1{path}",
            json=json,
            headers={"Authorization": f"Bearer {token}"},
            timeout=PUBLIC_TIMEOUT_S,
        )

    # -- accounts and tokens --------------------------------------------------------------

    def new_account(
        self, name: str = "Test customer", domains: tuple[str, ...] = ()
    ) -> SandboxAccount:
        """A new, empty customer with a token of its own, and these domains added."""
        issued = self.call("POST", "/tokens", {"customer_name": name})
        account = SandboxAccount(issued["customer_id"], issued["id"], issued["token"])
        for domain in domains:
            body = {"domain": domain, "real_mx_host": f"mail.{domain}"}
            answer = self.public(account, "POST", "/domains", body)
            if not answer.ok:
                raise SimulationError("POST", "/domains", answer.status_code, answer.text)
        return account

    def issue_token(self, customer_id: str) -> SandboxAccount:
        """Another token of an existing customer (a fresh rate budget, the same data)."""
        issued = self.call("POST", "/tokens", {"customer_id": customer_id})
        return SandboxAccount(customer_id, issued["id"], issued["token"])

    def revoke(self, account: SandboxAccount) -> None:
        """Revoke the account's token: its next request answers 401."""
        self.call("DELETE", f"/tokens/{account.token_id}", expect=204)

    # -- data -----------------------------------------------------------------------------

    def add_verdicts(
        self, account: SandboxAccount | None, verdicts: list[dict[str, Any]]
    ) -> dict[str, Any]:
        """Add these verdicts (fields as ``/_sandbox/verdicts`` takes them) to the account's
        customer (None: the sandbox's first customer)."""
        body: dict[str, Any] = {"verdicts": verdicts}
        if account is not None:
            body["customer_id"] = account.customer_id
        result: dict[str, Any] = self.call("POST", "/verdicts", body)
        return result

    def traffic(self, account: SandboxAccount | None, count: int, **options: Any) -> dict[str, Any]:
        """``count`` generated verdicts for the account's customer (None: the first customer);
        ``options`` as ``/_sandbox/traffic`` takes them (seed, spread_seconds, domains, ...)."""
        body: dict[str, Any] = {"count": count, **options}
        if account is not None:
            body["customer_id"] = account.customer_id
        result: dict[str, Any] = self.call("POST", "/traffic", body)
        return result

    def reset(self) -> dict[str, Any]:
        """Back to the state at start (the first customer, seeded as configured)."""
        result: dict[str, Any] = self.call("POST", "/reset")
        return result

    # -- faults ---------------------------------------------------------------------------

    def fault(self, **options: Any) -> dict[str, Any]:
        """Arm a fault (``kind``, ``count``, ``status``, ``token_id``... as ``/_sandbox/faults``
        takes them)."""
        result: dict[str, Any] = self.call("POST", "/faults", options)
        return result

    def clear_faults(self) -> None:
        self.call("DELETE", "/faults", expect=204)

    # -- requests served ------------------------------------------------------------------

    def requests_snapshot(self) -> dict[str, Any]:
        """Every public request counted: ``{"total": n, "by_token": {token_id: {...}}}``."""
        snapshot: dict[str, Any] = self.call("GET", "/requests")
        return snapshot

    def requests_served(self, account: SandboxAccount) -> RequestsServed:
        """Public API requests counted for the account's token (zero when none)."""
        counted = self.requests_snapshot()["by_token"].get(account.token_id)
        if counted is None:
            return {"total": 0, "by_path": {}, "by_status": {}}
        return cast(RequestsServed, counted)

    def clear_requests(self) -> None:
        self.call("DELETE", "/requests", expect=204)

    # -- the clock ------------------------------------------------------------------------

    def now(self) -> str:
        """The sandbox's clock, RFC 3339."""
        stamp: str = self.call("GET", "/clock")["now"]
        return stamp

    def now_us(self) -> int:
        """The sandbox's clock, microseconds since the epoch."""
        return parse_to_us(self.now())

    def advance_clock(self, seconds: float) -> str:
        """Move the sandbox's clock forward; its new time, RFC 3339."""
        now: str = self.call("POST", "/clock", {"advance_seconds": seconds})["now"]
        return now

    # -- lifetime -------------------------------------------------------------------------

    def close(self) -> None:
        self.session.close()

    def __enter__(self) -> SimulationClient:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
