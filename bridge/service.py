"""The bridge at work: every stream pumped once a round, then whatever is due delivered.

One pump per (token, event) with a subscription, whatever the number of subscriptions; one
``MxGuardClient`` per token, so every stream of a token shares that token's rate limiter and the
trigger cursor's budget plans against it. A round never raises for one stream's trouble (a token
revoked, MxGuard down): the stream is reported and tried again next round, and delivery goes on.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from api_client import MxGuardClient, MxGuardError
from bridge.delivery import Deliverer, DeliveryReport
from bridge.outbox import Pump, stream_key
from bridge.storage import BridgeStorage
from triggers.base import TriggerDefinition

logger = logging.getLogger("bridge")

DEFAULT_INTERVAL_S = 60.0
"""Seconds between rounds: the triggers' poll interval."""
DELIVERY_BATCH = 500
"""Rows a delivery pass takes at a time (passes repeat while rows are due)."""


@dataclass
class RoundReport:
    polled: list[str] = field(default_factory=list)
    """Streams polled."""
    queued: int = 0
    """Items the pumps emitted (before the fan-out to subscriptions)."""
    failed: dict[str, str] = field(default_factory=dict)
    """Stream -> why it could not be polled this round."""
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
    ) -> None:
        self.storage = storage
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
        for fingerprint, event in self.storage.streams():
            key = stream_key(fingerprint, event)
            try:
                pump = self._pump(fingerprint, event)
                if pump is None:
                    report.failed[key] = "no token stored for it, or an unknown event"
                    continue
                report.queued += pump.poll().emitted
                report.polled.append(key)
            except MxGuardError as error:
                report.failed[key] = str(error)
                logger.warning("bridge: %s not polled: %s", key, error)
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
            report = self.run_round()
            logger.info(
                "bridge: %d stream(s) polled, %d new, %d delivered, %d failed",
                len(report.polled),
                report.queued,
                report.delivery.delivered,
                report.delivery.failed,
            )
            _pause(stop, interval_s)

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
