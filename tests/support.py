"""Test helpers over the one simulation-API client, ``sandbox.simulation``.

``SandboxAdmin`` is that client for a sandbox running in this process; ``Account`` is the
sandbox's ``SandboxAccount`` (the names the tests have always used).
"""

from __future__ import annotations

from sandbox.server import SandboxServer
from sandbox.simulation import SandboxAccount, SimulationClient
from sandbox.timefmt import format_us

SECOND_US = 1_000_000
Account = SandboxAccount
"""A fresh customer of the sandbox, with its own token and so its own rate budget."""


class SandboxAdmin(SimulationClient):
    """The ``/_sandbox/`` API of one sandbox running in this process (``SandboxServer``)."""

    def __init__(self, server: SandboxServer) -> None:
        super().__init__(server.base_url, server.settings.admin_token)
        self.server = server


def account_with_mail(admin: SimulationClient) -> tuple[SandboxAccount, dict[str, str]]:
    """A fresh account with two quarantined messages: ids under "held" (spam from
    x@deals.example, subject A) and "other" (phishing from y@phish.example, subject B), and the
    first one's verdict under "held_verdict" (its Message-ID under "held_message_id").

    Both are stamped an hour before the sandbox's "now" (one second apart, so their order never
    depends on random ids): searches look back a number of days from the clock they read.
    """
    account = admin.new_account(domains=("example.com",))
    hour_ago = admin.now_us() - 3600 * SECOND_US
    mail = [
        ("spam", "x@deals.example", "A", format_us(hour_ago)),
        ("phishing", "y@phish.example", "B", format_us(hour_ago + SECOND_US)),
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
    verdicts = {message["subject"]: message["verdict_id"] for message in listed}
    verdict = admin.public(account, "GET", f"/verdicts/{verdicts['A']}").json()
    return account, {
        "held": held["A"],
        "other": held["B"],
        "held_verdict": verdicts["A"],
        "held_message_id": verdict["message_id"],
    }


class SandboxTime:
    """A clock and a sleep that move together with the sandbox's clock.

    Give ``clock``/``sleep`` to a client: when it "sleeps" to respect a rate limit, the sandbox's
    own time moves forward by as much, so a minute-long wait takes no real time and both sides
    agree on when a window has passed.
    """

    def __init__(self, admin: SimulationClient, start: float = 1_000_000.0) -> None:
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
