"""``mxguard demo``: the main job, end to end, on the embedded sandbox.

A sandbox starts in-process with the demo account; traffic arrives in rounds (ties, and a few
verdicts published late); the ``new_quarantined_message`` and ``new_verdict`` triggers follow it;
the actions release a false positive (a legitimate sender's invoice held as spam) and block a
spammer; a summary shows what came out, that nothing came twice, and what it cost in API requests.

Everything runs on the sandbox clock: each round is a minute of mail, so verdicts published late
come out a couple of rounds later however fast the machine is, and ``--pause`` only paces the
output. ``--seed`` decides the account's history, the traffic and so every sender, message and
count shown; only the random ids differ between two runs.
"""

from __future__ import annotations

import random
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table

from actions.create.add_sender_rule import ACTION as ADD_SENDER_RULE
from actions.update.release_message import ACTION as RELEASE_MESSAGE
from api_client import MxGuardClient, QuarantinedMessage, Verdict
from connector.demo_bridge import DemoBridge
from connector.polling import cursor_key, cursor_scope, make_poller
from sandbox.clock import SandboxClock
from sandbox.generator import DEMO_DOMAINS, DEMO_RULES, make_false_positive
from sandbox.server import SandboxServer
from sandbox.settings import SandboxSettings
from sandbox.simulation import SimulationClient
from triggers import MemoryCursorStore, Poller
from triggers.base import TriggerDefinition
from triggers.polling.new_quarantined_message import TRIGGER as NEW_QUARANTINED_MESSAGE
from triggers.polling.new_quarantined_message import QuarantineFilters
from triggers.polling.new_verdict import TRIGGER as NEW_VERDICT
from triggers.polling.new_verdict import VerdictFilters

ROUND_S = 60.0
"""Sandbox time from one round of mail to the next."""
LATE_PER_ROUND = 3
LATE_S = 90.0
"""How late those verdicts become visible: after the next round's poll, within MxGuard's bound."""
SWEEP_INTERVAL_S = ROUND_S / 2
"""So every round's poll looks back for late items."""
SHOWN = 3
"""Held messages listed per round; the rest are counted."""


def demo_console() -> Console:
    """A terminal wraps long lines itself; a pipe or file gets each line whole (no wrapping at
    80 columns in the middle of a phrase)."""
    console = Console()
    if not console.is_terminal:
        console.soft_wrap = True
    return console


class DemoTally:
    """What the triggers emitted."""

    def __init__(self) -> None:
        self.verdicts_seen: list[Verdict] = []
        self.quarantined: list[QuarantinedMessage] = []
        self.late = 0
        """Verdicts emitted although an earlier poll already covered their timestamp: they
        became visible after it (published late), and the look-back still caught them."""
        self._covered: datetime | None = None
        self._poll_started: datetime | None = None

    def begin_poll(self, now: datetime) -> None:
        self._covered, self._poll_started = self._poll_started, now

    def verdicts(self, items: Sequence[BaseModel]) -> None:
        for item in items:
            assert isinstance(item, Verdict)
            self.verdicts_seen.append(item)
            if self._covered is not None and item.scanned_at < self._covered:
                self.late += 1

    def messages(self, items: Sequence[BaseModel]) -> None:
        self.quarantined += [item for item in items if isinstance(item, QuarantinedMessage)]

    @property
    def verdict_ids(self) -> list[str]:
        return [v.id for v in self.verdicts_seen]


@dataclass
class Blocked:
    domain: str
    sender_domain: str
    at: datetime


@dataclass
class Demo:
    console: Console
    rng: random.Random
    server: SandboxServer
    clock: SandboxClock
    simulation: SimulationClient
    client: MxGuardClient
    tally: DemoTally
    arrived: int = 0
    late_published: int = 0
    false_positive: dict[str, Any] | None = None
    released: QuarantinedMessage | None = None
    blocked: Blocked | None = None


def run_demo(rounds: int = 8, pause: float = 1.0, seed: int = 7) -> None:
    console = demo_console()
    rng = random.Random(seed)
    console.rule("[bold]MxGuard connector demo")
    with SandboxServer(SandboxSettings(seed="demo", seed_random=seed)) as server:
        console.print(f"Sandbox API on [cyan]{server.base_url}[/] with the demo account")
        clock: SandboxClock = server.app.state.sandbox.clock
        with (
            server.simulation() as simulation,
            MxGuardClient(
                server.settings.token, server.base_url, rate_limit_db=":memory:", clock=clock.now
            ) as client,
        ):
            demo = Demo(console, rng, server, clock, simulation, client, DemoTally())
            _run(demo, rounds, pause)


def _run(demo: Demo, rounds: int, pause: float) -> None:
    console, client = demo.console, demo.client
    account = client.me()
    stats = client.stats(since="2000-01-01T00:00:00Z")
    console.print(
        f"Account [bold]{account.name}[/]: {stats.domains} domains, "
        f"{stats.messages_scanned:,} messages scanned so far, "
        f"quarantine rate {stats.quarantine_rate:.1%}"
    )
    store = MemoryCursorStore()
    quarantine = _poller(demo, store, account.id, NEW_QUARANTINED_MESSAGE, QuarantineFilters())
    verdicts = _poller(demo, store, account.id, NEW_VERDICT, VerdictFilters())
    bridge = DemoBridge(client, account.id, demo.clock.now)
    try:
        _follow(demo, quarantine, verdicts, bridge, rounds, pause)
    finally:
        bridge.close()


def _follow(
    demo: Demo, quarantine: Poller, verdicts: Poller, bridge: DemoBridge, rounds: int, pause: float
) -> None:
    console, tally = demo.console, demo.tally
    _poll(demo, quarantine, verdicts)
    bridge.round()
    console.print(
        "Triggers started from now: the old messages are not replayed "
        f"({len(tally.verdict_ids)} emitted on the first poll)."
    )
    console.print(
        f"Each round is a minute of mail on the sandbox clock; {LATE_PER_ROUND} verdicts a round "
        f"become visible {LATE_S:.0f} s late."
    )
    start = demo.clock.now()
    with Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        console=console,
        disable=not console.is_terminal,
    ) as progress:
        task = progress.add_task("Following new mail", total=rounds)
        for number in range(1, rounds + 1):
            if pause:
                time.sleep(pause)
            _advance_to(demo.clock, start + (number - 1) * ROUND_S)
            made = _traffic(demo, first=number == 1)
            before = len(tally.quarantined)
            _poll(demo, quarantine, verdicts)
            pushed = bridge.round()
            fresh = _in_order(tally.quarantined[before:])
            progress.console.print(
                f"round {number}: {made} messages arrived; triggers saw "
                f"{len(fresh)} new quarantined, {len(tally.verdict_ids)} verdicts in all; "
                f"the bridge pushed {pushed} verified webhooks in all"
            )
            for message in fresh[:SHOWN]:
                progress.console.print(
                    f"   [yellow]held[/] {message.reason:<9} {message.sender:<36} "
                    f"→ {message.recipient}  “{message.subject}”"
                )
            if len(fresh) > SHOWN:
                progress.console.print(f"   … and {len(fresh) - SHOWN} more")
            _act(demo)
            progress.advance(task)
    console.print(
        f"{2 * ROUND_S / 60:.0f} more minutes pass on the sandbox clock for the last late "
        "verdicts, then one more poll…"
    )
    if pause:
        time.sleep(pause)
    _advance_to(demo.clock, start + (rounds + 1) * ROUND_S)
    _poll(demo, quarantine, verdicts)
    _advance_to(demo.clock, start + (rounds + 3) * ROUND_S)  # the bridge's look-back: 2 minutes
    bridge.round()
    _summary(demo)
    webhooks = bridge.receiver.verified
    same = sorted(webhooks) == sorted(tally.verdict_ids)
    console.print(
        f"The bridge pushed {len(webhooks)} signed webhooks to a receiver on 127.0.0.1, each "
        f"verified, {len(webhooks) - len(set(webhooks))} twice"
        + (": the same verdicts the trigger emitted." if same else ".")
    )
    everything = demo.arrived == len(tally.verdict_ids)
    console.print(
        f"[bold]{demo.arrived} messages arrived, {len(set(tally.verdict_ids))} distinct verdicts "
        "emitted[/]" + (" — every one of them." if everything else ".")
    )


def _poller(
    demo: Demo,
    store: MemoryCursorStore,
    account_id: str,
    trigger: TriggerDefinition[Any],
    filters: BaseModel,
) -> Poller:
    key = cursor_key(trigger, cursor_scope(demo.client.base_url, account_id, filters))
    return make_poller(
        trigger, demo.client, filters, store, key=key, sweep_interval_s=SWEEP_INTERVAL_S
    )


def _poll(demo: Demo, quarantine: Poller, verdicts: Poller) -> None:
    demo.tally.begin_poll(datetime.fromtimestamp(demo.clock.now(), UTC))
    quarantine.poll(demo.tally.messages)
    verdicts.poll(demo.tally.verdicts)


def _advance_to(clock: SandboxClock, when: float) -> None:
    """Move the sandbox clock to ``when``, unless a long pause already took it past."""
    ahead = when - clock.now()
    if ahead > 0:
        clock.advance(ahead)


def _in_order(messages: Sequence[QuarantinedMessage]) -> list[QuarantinedMessage]:
    """Oldest first; ties (one batch shares a timestamp) by what is shown, not by random ids."""
    return sorted(
        messages, key=lambda m: (m.quarantined_at, m.sender, m.recipient, m.subject, m.reason)
    )


def _traffic(demo: Demo, first: bool) -> int:
    """A round of mail: most at one timestamp (ties), a few published late; in the first round,
    also a legitimate sender's invoice that the filter holds as spam."""
    made = 0
    if first:
        domains = [domain for domain, _ in DEMO_DOMAINS]
        rules = [{"domain": d, "pattern": p, "action": a} for d, p, a, _ in DEMO_RULES]
        invoice = make_false_positive(demo.rng, domains, demo.clock.now_us(), rules)
        fields = ("domain", "sender", "recipient", "subject", "verdict", "score", "action")
        demo.simulation.add_verdicts(
            None, [{name: invoice[name] for name in ("message_id", *fields)}]
        )
        demo.false_positive = invoice
        made += 1
    count = demo.rng.randint(20, 60)
    demo.simulation.traffic(None, count, seed=demo.rng.randrange(10**6))
    demo.simulation.traffic(
        None, LATE_PER_ROUND, seed=demo.rng.randrange(10**6), visible_after_seconds=LATE_S
    )
    demo.late_published += LATE_PER_ROUND
    made += count + LATE_PER_ROUND
    demo.arrived += made
    return made


def _act(demo: Demo) -> None:
    """Release the false positive once the trigger shows it, and block the spammer held most
    often for one domain (ties by name)."""
    console, client, tally = demo.console, demo.client, demo.tally
    invoice = demo.false_positive
    if demo.released is None and invoice is not None:
        for message in tally.quarantined:
            if (message.sender, message.recipient, message.subject) == (
                invoice["sender"],
                invoice["recipient"],
                invoice["subject"],
            ):
                result = RELEASE_MESSAGE.execute(client, {"message_id": message.id})
                console.print(
                    f"   [green]released[/] “{message.subject}” from {message.sender} to "
                    f"{message.recipient}, held as {message.reason}: a false positive "
                    f"({message.id}, outcome {result.outcome})"
                )
                demo.released = message
                break
    if demo.blocked is not None:
        return
    legitimate = {invoice["sender"].rpartition("@")[2]} if invoice else set()
    spammers = Counter(
        (message.domain, message.sender.rpartition("@")[2])
        for message in tally.quarantined
        if message.reason == "spam" and message.sender.rpartition("@")[2] not in legitimate
    )
    if not spammers:
        return
    (domain, sender_domain), held = min(spammers.items(), key=lambda kv: (-kv[1], kv[0]))
    rule = ADD_SENDER_RULE.execute(
        client,
        {
            "domain": domain,
            "pattern": f"*@{sender_domain}",
            "action": "block",
            "note": "spam, blocked by mxguard demo",
        },
    )
    plural = "message" if held == 1 else "messages"
    console.print(
        f"   [red]blocked[/] {rule.pattern} for {domain} after {held} spam {plural} held from "
        f"it (rule {rule.id}, {rule.outcome})"
    )
    demo.blocked = Blocked(domain, sender_domain, datetime.fromtimestamp(demo.clock.now(), UTC))


def _summary(demo: Demo) -> None:
    console, tally = demo.console, demo.tally
    table = Table(title="What the triggers emitted")
    table.add_column("verdict")
    table.add_column("count", justify="right")
    table.add_column("share", justify="right")
    by_verdict = Counter(str(v.verdict) for v in tally.verdicts_seen)
    total = max(1, len(tally.verdicts_seen))
    for verdict, count in sorted(by_verdict.items(), key=lambda kv: (-kv[1], kv[0])):
        table.add_row(verdict, str(count), f"{count / total:.1%}")
    console.print(table)
    ids = tally.verdict_ids
    duplicates = len(ids) - len(set(ids))
    spent = demo.simulation.requests_snapshot()
    console.print(
        f"{len(ids)} verdicts and {len(tally.quarantined)} quarantined messages emitted, "
        f"{duplicates} duplicates, {tally.late} of {demo.late_published} published late and "
        "still caught."
    )
    if demo.released:
        message = demo.released
        console.print(
            f"{message.sender}'s “{message.subject}” was delivered to {message.recipient}."
        )
    if demo.blocked:
        blocked = demo.blocked
        since = sum(
            v.domain == blocked.domain
            and v.sender.endswith("@" + blocked.sender_domain)
            and str(v.verdict) == "blocked"
            and v.scanned_at >= blocked.at
            for v in tally.verdicts_seen
        )
        console.print(
            f"Mail from *@{blocked.sender_domain} to {blocked.domain} is now rejected as "
            f"'blocked' ({since} rejected since)."
        )
    budget = demo.client.rate_budget
    console.print(
        f"API requests spent: {spent['total']} (budget left: {budget.minute_remaining}/min, "
        f"{budget.hour_remaining}/h of {budget.per_minute}/{budget.per_hour})."
    )
