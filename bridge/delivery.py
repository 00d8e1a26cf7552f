"""The delivery worker: sends due outbox rows as signed webhooks and keeps every attempt.

What a receiver sees follows the Standard Webhooks spec (``bridge/signing.py``): the same
``webhook-id`` on every attempt of one item, a fresh timestamp and signature on each. Only a 2xx
answer counts; redirects are not followed (a 3xx is a failure, so a target cannot send the
bridge elsewhere); the target is checked against the address rules before every attempt, not
only at subscribe time, because a name can resolve elsewhere later. What happens after a failure
is ``bridge/retry.py``'s decision: a retry, or the subscription disabled (410, or failing too
long), its rows kept for ``recover``.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import requests

from api_client.contract import MICROS
from bridge.models import EXCERPT_LIMIT, Attempt, Delivery, Subscription, SubscriptionStatus
from bridge.retry import Outcome, RetrySchedule
from bridge.signing import body, signed_headers
from bridge.storage import BridgeStorage
from bridge.targets import Resolver, TargetRefusedError, check_target, resolve_with_getaddrinfo

TIMEOUT_S = 15.0
"""How long a target has to answer (the spec's recommendation)."""


@dataclass
class DeliveryReport:
    attempted: int = 0
    delivered: int = 0
    failed: int = 0
    disabled: list[str] = field(default_factory=list)
    """Subscriptions disabled by this round."""


class Deliverer:
    """Sends what is due, one round at a time (``deliver_due``); clock and randomness injected."""

    def __init__(
        self,
        storage: BridgeStorage,
        *,
        session: requests.Session | None = None,
        schedule: RetrySchedule | None = None,
        allow_private_targets: bool = False,
        resolve: Resolver = resolve_with_getaddrinfo,
        clock_us: Callable[[], int] = lambda: int(time.time() * MICROS),
        rng: random.Random | None = None,
        timeout_s: float = TIMEOUT_S,
    ) -> None:
        self.storage = storage
        self.session = session or requests.Session()
        self.schedule = schedule or RetrySchedule()
        self.allow_private_targets = allow_private_targets
        self.resolve = resolve
        self.clock_us = clock_us
        self.rng = rng or random.Random()
        self.timeout_s = timeout_s

    def deliver_due(self, limit: int = 100) -> DeliveryReport:
        """Attempt every row that is due (at most ``limit``), oldest first per subscription."""
        report = DeliveryReport()
        stalled: set[str] = set()
        for row in self.storage.due(self.clock_us(), limit):
            if row.subscription_id in stalled:
                continue  # its older row just failed: keep the subscription's order
            subscription = self.storage.subscription_for_delivery(row.subscription_id)
            if subscription is None or subscription.status is SubscriptionStatus.disabled:
                continue  # removed or disabled since: nothing to send
            delivered = self.attempt(row, subscription)
            report.attempted += 1
            if delivered:
                report.delivered += 1
            else:
                report.failed += 1
                stalled.add(row.subscription_id)
                current = self.storage.subscription_for_delivery(row.subscription_id)
                if current is not None and current.status is SubscriptionStatus.disabled:
                    report.disabled.append(row.subscription_id)
        return report

    def attempt(self, row: Delivery, subscription: Subscription) -> bool:
        """One attempt of one row; the attempt and its consequence are recorded either way."""
        now = self.clock_us()
        status, retry_after, excerpt, latency_ms = self._send(row, subscription, now)
        decision = self.schedule.next_step(
            row.attempts + 1, status, retry_after, subscription.failing_since, now, rng=self.rng
        )
        delivered = decision.outcome is Outcome.delivered
        self.storage.record_attempt(
            Attempt(
                delivery_id=row.id,
                subscription_id=row.subscription_id,
                at=now,
                status_code=status,
                latency_ms=latency_ms,
                excerpt=excerpt[:EXCERPT_LIMIT],
                next_attempt_at=decision.retry_at,
                extra={"reason": decision.reason} if decision.reason else {},
            ),
            delivered=delivered,
        )
        new_status = {
            Outcome.delivered: SubscriptionStatus.active,
            Outcome.retry: SubscriptionStatus.failing,
            Outcome.disable: SubscriptionStatus.disabled,
        }[decision.outcome]
        if new_status is not subscription.status or (
            decision.failing_since != subscription.failing_since
        ):
            self.storage.set_status(row.subscription_id, new_status, decision.failing_since)
        return delivered

    def _send(
        self, row: Delivery, subscription: Subscription, now: int
    ) -> tuple[int | None, str | None, str, float]:
        """(status or None, Retry-After, excerpt, latency in ms) of one POST."""
        try:
            check_target(
                subscription.target_url,
                allow_private=self.allow_private_targets,
                resolve=self.resolve,
            )
        except TargetRefusedError as refused:
            return None, None, f"not sent: {refused}", 0.0
        happened = datetime.fromtimestamp(row.timestamp / MICROS, UTC)
        payload = body(row.event, happened, row.item)  # the same bytes on every attempt
        attempted = datetime.fromtimestamp(now / MICROS, UTC)
        headers = signed_headers(subscription.secret, row.webhook_id, attempted, payload)
        started = time.perf_counter()
        try:
            answer = self.session.post(
                subscription.target_url,
                data=payload.encode(),
                headers=headers,
                timeout=self.timeout_s,
                allow_redirects=False,
            )
        except requests.RequestException as error:
            latency_ms = (time.perf_counter() - started) * 1000
            return None, None, f"no answer: {type(error).__name__}", latency_ms
        latency_ms = (time.perf_counter() - started) * 1000
        excerpt = answer.text[:EXCERPT_LIMIT] if answer.content else ""
        return answer.status_code, answer.headers.get("Retry-After"), excerpt, latency_ms
