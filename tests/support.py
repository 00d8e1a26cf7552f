"""Test helpers: drive a running sandbox's simulation API over real HTTP."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import requests

from sandbox.server import SandboxServer
from sandbox.timefmt import MICROS, format_us, parse_to_us


@dataclass(frozen=True)
class Account:
    """A fresh customer of the sandbox, with its own token and so its own rate budget."""

    customer_id: str
    token_id: str
    token: str


class SandboxAdmin:
    """The ``/_sandbox/`` API of one running sandbox."""

    def __init__(self, server: SandboxServer) -> None:
        self.server = server
        self.base_url = server.base_url
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {server.settings.admin_token}"

    def call(self, method: str, path: str, json: Any = None, expect: int | None = None) -> Any:
        response = self.session.request(method, f"{self.base_url}/_sandbox{path}", json=json)
        if expect is not None:
            assert response.status_code == expect, response.text
        elif response.status_code >= 400:
            raise AssertionError(f"{method} {path}: {response.status_code} {response.text}")
        return response.json() if response.content else None

    def new_account(self, name: str = "Test customer", domains: tuple[str, ...] = ()) -> Account:
        issued = self.call("POST", "/tokens", {"customer_name": name})
        account = Account(issued["customer_id"], issued["id"], issued["token"])
        for domain in domains:
            self.public(
                account, "POST", "/domains", {"domain": domain, "real_mx_host": f"mail.{domain}"}
            )
        return account

    def public(
        self, account: Account, method: str, path: str, json: Any = None
    ) -> requests.Response:
        return requests.request(
            method,
            f"{self.base_url}/api/v1{path}",
            json=json,
            headers={"Authorization": f"Bearer {account.token}"},
            timeout=10,
        )

    def add_verdicts(self, account: Account, verdicts: list[dict[str, Any]]) -> dict[str, Any]:
        result: dict[str, Any] = self.call(
            "POST", "/verdicts", {"customer_id": account.customer_id, "verdicts": verdicts}
        )
        return result

    def traffic(self, account: Account, count: int, **options: Any) -> dict[str, Any]:
        body = {"customer_id": account.customer_id, "count": count, **options}
        result: dict[str, Any] = self.call("POST", "/traffic", body)
        return result

    def fault(self, **options: Any) -> None:
        self.call("POST", "/faults", options)

    def requests_served(self, account: Account) -> dict[str, Any]:
        snapshot = self.call("GET", "/requests")
        counted: dict[str, Any] = snapshot["by_token"].get(
            account.token_id, {"total": 0, "by_path": {}}
        )
        return counted

    def advance_clock(self, seconds: float) -> str:
        now: str = self.call("POST", "/clock", {"advance_seconds": seconds})["now"]
        return now

    def now(self) -> str:
        stamp: str = self.call("GET", "/clock")["now"]
        return stamp


def account_with_mail(admin: SandboxAdmin) -> tuple[Account, dict[str, str]]:
    """A fresh account with two quarantined messages: ids under "held" (spam from
    x@deals.example, subject A) and "other" (phishing from y@phish.example, subject B).

    Both are stamped an hour before the sandbox's "now" (one second apart, so their order never
    depends on random ids): searches look back a number of days from the clock they read.
    """
    account = admin.new_account(domains=("example.com",))
    hour_ago = parse_to_us(admin.now()) - 3600 * MICROS
    mail = [
        ("spam", "x@deals.example", "A", format_us(hour_ago)),
        ("phishing", "y@phish.example", "B", format_us(hour_ago + MICROS)),
    ]
    admin.add_verdicts(
        account,
        [
            {
                "domain": "example.com",
                "verdict": v,
                "sender": s,
                "subject": subject,
                "scanned_at": at,
            }
            for v, s, subject, at in mail
        ],
    )
    listed = admin.public(account, "GET", "/quarantine").json()["data"]
    held = {message["subject"]: message["id"] for message in listed}
    return account, {"held": held["A"], "other": held["B"]}


class SandboxTime:
    """A clock and a sleep that move together with the sandbox's clock.

    Give ``clock``/``sleep`` to a client: when it "sleeps" to respect a rate limit, the sandbox's
    own time moves forward by as much, so a minute-long wait takes no real time and both sides
    agree on when a window has passed.
    """

    def __init__(self, admin: SandboxAdmin, start: float = 1_000_000.0) -> None:
        self.admin = admin
        self.elapsed = start
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.elapsed

    def sleep(self, seconds: float) -> None:
        if seconds <= 0:
            return
        self.slept.append(seconds)
        self.elapsed += seconds
        self.admin.advance_clock(seconds)
