"""The bridge at work: every stream pumped once a round, then whatever is due delivered.

One pump per (token, event) with a subscription, whatever the number of subscriptions; one
``MxGuardClient`` per token, so every stream of a token shares that token's rate limiter and the
trigger cursor's budget plans against it. A round never raises for one stream's trouble (a token
revoked, MxGuard down): the stream is reported and tried again next round, and delivery goes on.

Several workers (bridge processes on one PostgreSQL database) share the tokens through leases:
a worker polls a token's streams only under the token's lease (``token:<fingerprint>``), renewed
each round, and its commits are refused once the lease is lost. Each worker also keeps a lease of
its own (``worker:<id>``), so every worker can count the live ones and take at most its share of
the tokens: a worker that joins gets tokens as the others give back what is above their share.
"""

from __future__ import annotations

import logging
import math
import secrets
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from api_client import MxGuardClient, MxGuardError
from bridge.delivery import Deliverer, DeliveryReport
from bridge.models import BudgetReport, Lease, StreamReport
from bridge.outbox import Pump, stream_key
from bridge.storage import BridgeStorage, LeaseLostError
from triggers.base import TriggerDefinition
from triggers.poller import PollReport

logger = logging.getLogger("bridge")

DEFAULT_INTERVAL_S = 60.0
"""Seconds between rounds: the triggers' poll interval."""
DELIVERY_BATCH = 500
"""Rows a delivery pass takes at a time (passes repeat while rows are due)."""
DEFAULT_LEASE_S = 120.0
"""How long a worker's hold on a token lasts without renewal: longer than a round takes (the
interval plus a poll that may wait for the rate limit), so only a worker that stopped or lost
the database loses its tokens, and another takes them over within this delay."""
TOKEN_LEASE = "token:"
WORKER_LEASE = "worker:"


@dataclass
class RoundReport:
    polled: list[str] = field(default_factory=list)
    """Streams polled."""
    queued: int = 0
    """Items the pumps emitted (before the fan-out to subscriptions)."""
    failed: dict[str, str] = field(default_factory=dict)
    """Stream -> why it could not be polled this round."""
    others: list[str] = field(default_factory=list)
    """Token fingerprints left to other workers this round (their lease, or above our share)."""
    delivery: DeliveryReport = field(default_factory=DeliveryReport)


class BridgeService:
    def __init__(
        self,
        storage: BridgeStorage,
        *,
        triggers: Mapping[str, TriggerDefinition[Any]],
        client_factory: Callable[[str], MxGuardClient],
        deliverer: Deliverer,
        clock_us: Callable[[], int],
        budget_per_hour: float | None = None,
        worker_id: str | None = None,
        lease_s: float = DEFAULT_LEASE_S,
    ) -> None:
        self.storage = storage
        self.worker_id = worker_id or f"worker-{secrets.token_hex(6)}"
        self.lease_s = lease_s
        self._leases: dict[str, Lease] = {}
        """Token fingerprint -> the lease this worker holds on it."""
        self._worker_lease: Lease | None = None
        self.triggers = triggers
        self.client_factory = client_factory
        self.deliverer = deliverer
        self.clock_us = clock_us
        self.budget_per_hour = budget_per_hour
        self._clients: dict[str, MxGuardClient] = {}
        self._pumps: dict[str, Pump] = {}

    def run_round(self) -> RoundReport:
        """Poll every stream once, then deliver until nothing is due."""
        report = RoundReport()
        by_token: dict[str, list[str]] = {}
        for fingerprint, event in self.storage.streams():
            by_token.setdefault(fingerprint, []).append(event)
        held = self._leases_for(list(by_token))
        for fingerprint, events in by_token.items():
            lease = held.get(fingerprint)
            if lease is None:
                report.others.append(fingerprint)
                continue
            seen: list[StreamReport] = []
            for event in events:
                key = stream_key(fingerprint, event)
                try:
                    pump = self._pump(fingerprint, event)
                    if pump is None:
                        report.failed[key] = "no token stored for it, or an unknown event"
                        continue
                    polled = pump.poll(lease)
                    report.queued += polled.emitted
                    report.polled.append(key)
                    seen.append(self._stream_report(fingerprint, event, polled, None))
                except LeaseLostError as lost:
                    report.failed[key] = str(lost)
                    self._leases.pop(fingerprint, None)
                    logger.warning("bridge: %s: %s", key, lost)
                    break
                except MxGuardError as error:
                    report.failed[key] = str(error)
                    logger.warning("bridge: %s not polled: %s", key, error)
                    seen.append(self._stream_report(fingerprint, event, None, str(error)))
            self._keep_reports(fingerprint, seen)
        while True:
            delivered = self.deliverer.deliver_due(DELIVERY_BATCH)
            report.delivery.attempted += delivered.attempted
            report.delivery.delivered += delivered.delivered
            report.delivery.failed += delivered.failed
            report.delivery.disabled += delivered.disabled
            if delivered.attempted == 0 or delivered.failed == delivered.attempted:
                return report

    def serve(self, stop: threading.Event, interval_s: float = DEFAULT_INTERVAL_S) -> None:
        """Rounds every ``interval_s`` until ``stop`` is set (checked every 0.2 s while waiting)."""
        while not stop.is_set():
            try:
                report = self.run_round()
            except MxGuardError as error:  # the storage out of reach: try again next round
                logger.warning("bridge: round failed: %s", error)
                _pause(stop, interval_s)
                continue
            logger.info(
                "bridge: %d stream(s) polled, %d new, %d delivered, %d failed",
                len(report.polled),
                report.queued,
                report.delivery.delivered,
                report.delivery.failed,
            )
            _pause(stop, interval_s)
        try:
            self.release()
        except MxGuardError as error:  # the leases expire by themselves
            logger.warning("bridge: leases not given back: %s", error)

    def _leases_for(self, fingerprints: list[str]) -> dict[str, Lease]:
        """The token leases this worker holds for the round: renewed, or newly taken up to its
        share (the tokens divided by the live workers, rounded up); leases above the share are
        given back so that a worker that joined gets some."""
        self._worker_lease = self.storage.acquire_lease(
            WORKER_LEASE + self.worker_id, self.worker_id, self.lease_s
        )
        workers = max(1, len(self.storage.live_leases(WORKER_LEASE)))
        share = math.ceil(len(fingerprints) / workers) if fingerprints else 0
        wanted = set(fingerprints)
        for fingerprint in [f for f in self._leases if f not in wanted]:
            self.storage.release_lease(self._leases.pop(fingerprint))
        # renew first (they keep their pumps' warm state), then take free ones
        order = sorted(fingerprints, key=lambda f: (f not in self._leases, f))
        taken = 0
        for fingerprint in order:
            old = self._leases.pop(fingerprint, None)
            if taken >= share:
                if old is not None:
                    self.storage.release_lease(old)
                continue
            lease = self.storage.acquire_lease(
                TOKEN_LEASE + fingerprint, self.worker_id, self.lease_s
            )
            if lease is not None:
                self._leases[fingerprint] = lease
                taken += 1
        return dict(self._leases)

    def _stream_report(
        self, fingerprint: str, event: str, polled: PollReport | None, error: str | None
    ) -> StreamReport:
        """What a poll found (or why there was none), for the console."""
        report = StreamReport(
            stream=stream_key(fingerprint, event),
            fingerprint=fingerprint,
            event=event,
            at=self.clock_us(),
            error=error,
        )
        if polled is None:
            return report
        return replace(
            report,
            mode=polled.mode,
            budget_per_hour=polled.budget_per_hour,
            needed_per_hour=polled.needed_per_hour,
            behind_per_hour_s=polled.behind_per_hour_s,
            complete=polled.complete,
        )

    def _keep_reports(self, fingerprint: str, streams: list[StreamReport]) -> None:
        """Keep the round's reports of a token's streams and its budget as its client sees it
        after the polls, in one write; a failure to keep them is only logged (the polls
        themselves are committed)."""
        budget: BudgetReport | None = None
        client = self._clients.get(fingerprint)
        if client is not None:
            rate = client.rate_budget
            reset = rate.server_reset
            budget = BudgetReport(
                fingerprint=fingerprint,
                at=self.clock_us(),
                per_minute=rate.per_minute,
                per_hour=rate.hourly_limit,
                minute_remaining=rate.minute_remaining,
                hour_remaining=rate.hour_remaining,
                server_limit=rate.server_limit,
                server_remaining=rate.server_remaining,
                server_reset=None if reset is None else int(reset.timestamp()),
            )
        try:
            self.storage.record_reports(streams, budget)
        except MxGuardError as failed:
            logger.warning("bridge: reports of %s not kept: %s", fingerprint, failed)

    def release(self) -> None:
        """Give every lease back (a worker stopping cleanly): others take over at once."""
        for lease in self._leases.values():
            self.storage.release_lease(lease)
        self._leases.clear()
        if self._worker_lease is not None:
            self.storage.release_lease(self._worker_lease)
            self._worker_lease = None

    def close(self) -> None:
        for client in self._clients.values():
            client.close()
        self._clients.clear()
        self._pumps.clear()

    def _pump(self, fingerprint: str, event: str) -> Pump | None:
        key = stream_key(fingerprint, event)
        if key in self._pumps:
            return self._pumps[key]
        trigger = self.triggers.get(event)
        token = self.storage.token(fingerprint)
        if trigger is None or token is None:
            return None
        client = self._clients.get(fingerprint)
        if client is None:
            client = self._clients[fingerprint] = self.client_factory(token)
        self._pumps[key] = Pump(
            self.storage,
            trigger=trigger,
            fingerprint=fingerprint,
            client=client,
            clock_us=self.clock_us,
            budget_per_hour=self.budget_per_hour,
        )
        return self._pumps[key]


PAUSE_STEP_S = 0.2


def _pause(stop: threading.Event, seconds: float) -> None:
    """Wait ``seconds`` or until ``stop`` is set, in short relative sleeps: a timed
    ``Event.wait`` waits for an absolute deadline, which a process whose clock is shifted (the
    date-independence check runs under libfaketime) never reaches."""
    deadline = time.monotonic() + seconds
    while not stop.is_set() and time.monotonic() < deadline:
        time.sleep(min(PAUSE_STEP_S, max(0.0, deadline - time.monotonic())))
