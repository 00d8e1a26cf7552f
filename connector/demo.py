"""``mxguard demo``: the main job, end to end, on the embedded sandbox.

A sandbox starts in-process with the demo account; traffic arrives in rounds (ties, and a few
verdicts published late); the ``new_quarantined_message`` and ``new_verdict`` triggers follow it;
the first quarantined message is released and its sender blocked through the actions; a summary
shows what came out, that nothing came twice, and what it cost in API requests.
"""

from __future__ import annotations

import random
import time
from collections import Counter
from collections.abc import Sequence
from typing import Any

import requests
from pydantic import BaseModel
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from actions import ACTIONS
from api_client import MxGuardClient, QuarantinedMessage, Verdict
from connector.polling import make_poller
from sandbox.server import SandboxServer
from sandbox.settings import SandboxSettings
from triggers import NEW_QUARANTINED_MESSAGE, NEW_VERDICT, MemoryCursorStore
from triggers.definitions import QuarantineFilters, VerdictFilters


class DemoTally:
    def __init__(self) -> None:
        self.verdict_ids: list[str] = []
        self.by_verdict: Counter[str] = Counter()
        self.quarantined: list[QuarantinedMessage] = []
        self.late = 0
        self.newest = ""

    def verdicts(self, items: Sequence[BaseModel]) -> None:
        for item in items:
            assert isinstance(item, Verdict)
            self.verdict_ids.append(item.id)
            self.by_verdict[str(item.verdict)] += 1
            stamp = item.scanned_at.isoformat()
            if stamp < self.newest:
                self.late += 1
            self.newest = max(self.newest, stamp)

    def messages(self, items: Sequence[BaseModel]) -> None:
        self.quarantined += [item for item in items if isinstance(item, QuarantinedMessage)]


def run_demo(rounds: int = 8, pause: float = 1.0, seed: int = 7) -> None:
    console = Console()
    rng = random.Random(seed)
    console.rule("[bold]MxGuard connector demo")
    with SandboxServer(SandboxSettings(seed="demo")) as server:
        console.print(f"Sandbox API on [cyan]{server.base_url}[/] with the demo account")
        admin = requests.Session()
        admin.headers["Authorization"] = f"Bearer {server.settings.admin_token}"
        with MxGuardClient(
            server.settings.token, server.base_url, rate_limit_db=":memory:"
        ) as client:
            _run(console, rng, server, admin, client, rounds, pause)


def _run(
    console: Console,
    rng: random.Random,
    server: SandboxServer,
    admin: requests.Session,
    client: MxGuardClient,
    rounds: int,
    pause: float,
) -> None:
    account = client.me()
    stats = client.stats(since="2000-01-01T00:00:00Z")
    console.print(
        f"Account [bold]{account.name}[/]: {stats.domains} domains, "
        f"{stats.messages_scanned:,} messages scanned so far, "
        f"quarantine rate {stats.quarantine_rate:.1%}"
    )
    store = MemoryCursorStore()
    look_back = max(2 * pause, 1.0)
    quarantine = make_poller(
        NEW_QUARANTINED_MESSAGE, client, QuarantineFilters(), store, sweep_interval_s=look_back
    )
    verdicts = make_poller(NEW_VERDICT, client, VerdictFilters(), store, sweep_interval_s=look_back)
    tally = DemoTally()
    quarantine.poll(tally.messages)
    verdicts.poll(tally.verdicts)
    console.print(
        "Triggers started from now: the old messages are not replayed "
        f"({len(tally.verdict_ids)} emitted on the first poll)."
    )
    blocked: tuple[str, str] | None = None
    arrived = 0
    with Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
    ) as progress:
        task = progress.add_task("Following new mail", total=rounds)
        for number in range(1, rounds + 1):
            made = _traffic(server, admin, rng)
            arrived += made
            time.sleep(pause)
            before = len(tally.quarantined)
            quarantine.poll(tally.messages)
            verdicts.poll(tally.verdicts)
            fresh = tally.quarantined[before:]
            progress.console.print(
                f"round {number}: {made} messages arrived; triggers saw "
                f"{len(fresh)} new quarantined, {len(tally.verdict_ids)} verdicts in all"
            )
            for message in fresh[:3]:
                progress.console.print(
                    f"   [yellow]held[/] {message.reason:<9} {message.sender:<36} "
                    f"→ {message.recipient}  “{message.subject}”"
                )
            if blocked is None and tally.quarantined:
                blocked = _act(progress.console, client, tally.quarantined[0])
            progress.advance(task)
    console.print(f"Waiting {look_back:.1f} s for the last late verdicts, then one more poll…")
    time.sleep(look_back + 0.2)
    quarantine.poll(tally.messages)
    verdicts.poll(tally.verdicts)
    _summary(console, server, admin, client, tally, blocked)
    console.print(
        f"[bold]{arrived} messages arrived, {len(set(tally.verdict_ids))} distinct verdicts "
        "emitted[/]" + (" — every one of them." if arrived == len(tally.verdict_ids) else ".")
    )


def _traffic(server: SandboxServer, admin: requests.Session, rng: random.Random) -> int:
    """A round of mail: most at one timestamp (ties), a few published late."""
    count = rng.randint(20, 60)
    url = f"{server.base_url}/_sandbox/traffic"
    admin.post(
        url, json={"count": count, "seed": rng.randrange(10**6)}, timeout=10
    ).raise_for_status()
    late = {"count": 3, "seed": rng.randrange(10**6), "visible_after_seconds": 1.5}
    admin.post(url, json=late, timeout=10).raise_for_status()
    return count + 3


def _act(console: Console, client: MxGuardClient, message: QuarantinedMessage) -> tuple[str, str]:
    released = ACTIONS["release_message"].execute(client, {"message_id": message.id})
    console.print(
        f"   [green]released[/] {message.id} to {message.recipient} (outcome: {released.outcome})"
    )
    sender_domain = message.sender.rpartition("@")[2]
    rule = ACTIONS["add_sender_rule"].execute(
        client,
        {
            "domain": message.domain,
            "pattern": f"*@{sender_domain}",
            "action": "block",
            "note": "blocked by mxguard demo",
        },
    )
    console.print(
        f"   [red]blocked[/] {rule.pattern} for {message.domain} (rule {rule.id}, {rule.outcome})"
    )
    return message.domain, sender_domain


def _summary(
    console: Console,
    server: SandboxServer,
    admin: requests.Session,
    client: MxGuardClient,
    tally: DemoTally,
    blocked: tuple[str, str] | None,
) -> None:
    table = Table(title="What the triggers emitted")
    table.add_column("verdict")
    table.add_column("count", justify="right")
    for verdict, count in sorted(tally.by_verdict.items(), key=lambda kv: -kv[1]):
        table.add_row(verdict, str(count))
    console.print(table)
    duplicates = len(tally.verdict_ids) - len(set(tally.verdict_ids))
    spent: dict[str, Any] = admin.get(f"{server.base_url}/_sandbox/requests", timeout=10).json()
    requests_made = spent["total"]
    console.print(
        f"{len(tally.verdict_ids)} verdicts and {len(tally.quarantined)} quarantined messages "
        f"emitted, {duplicates} duplicates, {tally.late} published late and still caught."
    )
    if blocked:
        console.print(f"Mail from *@{blocked[1]} to {blocked[0]} is now rejected as 'blocked'.")
    budget = client.rate_budget
    console.print(
        f"API requests spent: {requests_made} (budget left: {budget.minute_remaining}/min, "
        f"{budget.hour_remaining}/h of {budget.per_minute}/{budget.per_hour})."
    )
