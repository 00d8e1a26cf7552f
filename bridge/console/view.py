"""What the console shows one customer, read from the bridge's storage: nothing is asked of
MxGuard to draw it, so watching the bridge spends none of the token's budget.

* subscriptions, each with its status and its last attempt;
* per token and event (a stream): the cursor's watermark, how far behind now the stream has been
  read (the lag), and the policy the last poll chose (``live`` or ``batch``, its budget);
* recent attempts across the customer's subscriptions;
* per token: requests a minute over the last hour (the streams' own counts, ``CursorState.spent``)
  against the limits, and what MxGuard last reported remaining.

The result is plain data: the templates only lay it out, and tests read it without a browser.
"""

from __future__ import annotations

from dataclasses import dataclass

from api_client.contract import DEFAULT_PER_HOUR, DEFAULT_PER_MINUTE
from bridge.models import Attempt, BudgetReport, StreamReport, Subscription, SubscriptionStatus
from bridge.outbox import stream_key
from bridge.storage import BridgeStorage
from triggers.cursor import MINUTE_US, CursorPolicy, CursorState

CHART_MINUTES = 60
"""The budget chart's span: the hour the 600/h limit counts."""
RECENT_ATTEMPTS = 20
"""Attempts the deliveries panel shows, newest first, across the customer's subscriptions."""


@dataclass(frozen=True)
class SubscriptionRow:
    subscription: Subscription
    last_attempt: Attempt | None

    @property
    def needs_recovery(self) -> bool:
        """Failing or disabled: the console offers Recover."""
        return self.subscription.status is not SubscriptionStatus.active


@dataclass(frozen=True)
class StreamRow:
    event: str
    cursor: CursorState | None
    """None until the stream's first poll."""
    report: StreamReport | None
    lag_us: int | None
    """Now less the time up to which the stream has been read; None before the first poll."""


@dataclass(frozen=True)
class MinuteSpend:
    minute: int
    """The minute's start (µs)."""
    requests: int


@dataclass(frozen=True)
class TokenView:
    fingerprint: str
    label: str
    streams: list[StreamRow]
    minutes: list[MinuteSpend]
    """``CHART_MINUTES`` minutes, oldest first, ending with the current one."""
    budget: BudgetReport | None
    """After the token's last round; None before it."""

    @property
    def per_minute(self) -> int:
        """The token's limits: as its last round saw them, else the documented ones."""
        return self.budget.per_minute if self.budget else DEFAULT_PER_MINUTE

    @property
    def per_hour(self) -> int:
        return self.budget.per_hour if self.budget else DEFAULT_PER_HOUR

    @property
    def spent_last_hour(self) -> int:
        return sum(m.requests for m in self.minutes)


@dataclass(frozen=True)
class AttemptRow:
    attempt: Attempt
    event: str


@dataclass(frozen=True)
class ConsoleView:
    customer_id: str
    now: int
    subscriptions: list[SubscriptionRow]
    tokens: list[TokenView]
    attempts: list[AttemptRow]

    @property
    def failing(self) -> int:
        """Subscriptions not being delivered (failing or disabled): the headline figure."""
        return sum(1 for row in self.subscriptions if row.needs_recovery)


def caught_up_to(cursor: CursorState, report: StreamReport | None, policy: CursorPolicy) -> int:
    """The time up to which every item of the stream has been read and handed to the outbox.

    A read stopped part-way (the budget) has read everything before its ``resume_since``. A
    complete poll has read up to when it began, in live mode; in batch mode only settled time is
    read, which ends ``settle_delay`` before it.
    """
    if cursor.resume_since is not None:
        return cursor.resume_since
    read = cursor.last_poll if cursor.last_poll is not None else cursor.floor
    if report is not None and report.mode == "batch":
        return read - policy.settle_delay_us
    return read


def minutes_spent(cursors: list[CursorState], now: int) -> list[MinuteSpend]:
    """Requests a minute over the last ``CHART_MINUTES`` minutes, summed over a token's streams
    (each stream counts its own requests by minute, ``CursorState.spent``)."""
    current = now // MINUTE_US
    totals: dict[int, int] = {}
    for cursor in cursors:
        for minute, count in cursor.spent.items():
            totals[minute] = totals.get(minute, 0) + count
    return [
        MinuteSpend(minute=m * MINUTE_US, requests=totals.get(m, 0))
        for m in range(current - CHART_MINUTES + 1, current + 1)
    ]


def build_view(
    storage: BridgeStorage,
    customer_id: str,
    now: int,
    *,
    policy: CursorPolicy | None = None,
) -> ConsoleView:
    """Everything the console shows ``customer_id``, as of ``now`` (µs)."""
    policy = policy or CursorPolicy()
    subscriptions = storage.subscriptions(customer_id)
    rows: list[SubscriptionRow] = []
    for subscription in subscriptions:
        last = storage.attempts(customer_id, subscription.id, 1)
        rows.append(SubscriptionRow(subscription, last[0] if last else None))
    events = {s.id: s.event for s in subscriptions}
    attempts = [
        AttemptRow(attempt, events.get(attempt.subscription_id, ""))
        for attempt in storage.recent_attempts(customer_id, RECENT_ATTEMPTS)
    ]

    events_by_token: dict[str, set[str]] = {}
    for subscription in subscriptions:
        events_by_token.setdefault(subscription.token_fingerprint, set()).add(subscription.event)
    tokens: list[TokenView] = []
    for stored in storage.tokens(customer_id):
        fingerprint = stored.fingerprint
        reports = {r.event: r for r in storage.stream_reports(fingerprint)}
        streams: list[StreamRow] = []
        cursors: list[CursorState] = []
        for event in sorted(events_by_token.get(fingerprint, set()) | set(reports)):
            cursor = storage.load_cursor(stream_key(fingerprint, event), with_seen=False)
            report = reports.get(event)
            lag = None
            if cursor is not None:
                cursors.append(cursor)
                lag = max(0, now - caught_up_to(cursor, report, policy))
            streams.append(StreamRow(event, cursor, report, lag))
        tokens.append(
            TokenView(
                fingerprint=fingerprint,
                label=stored.label,
                streams=streams,
                minutes=minutes_spent(cursors, now),
                budget=storage.budget_report(fingerprint),
            )
        )
    return ConsoleView(
        customer_id=customer_id,
        now=now,
        subscriptions=rows,
        tokens=tokens,
        attempts=attempts,
    )
