"""The bridge: MxGuard requests against subscriptions, delivery latency, delivery throughput.

The bridge exists so that a token's 600 requests an hour are not divided among every workflow
that wants its verdicts: one pump per token and event polls MxGuard, and each new item is fanned
out to the subscriptions locally. That claim is a number: the requests an hour of traffic costs
must be the same for 1, 10 or 50 subscriptions on one token. So the real ``BridgeService`` (its
pumps, the SQLite outbox, the delivery worker, Standard Webhooks signing) runs over the same
simulated hour of traffic (``bench.stream``'s generator, ``bench.simulated_api``'s MxGuard on a
simulated clock) once per subscription count, and the simulated API counts what it served.

What a subscriber sees is how late a webhook comes: from the moment a verdict is visible in
MxGuard to the moment its webhook is received, on the same simulated clock, at the documented
60 s round. The receiver of those runs is a ``requests`` adapter answering 200 in-process, so
nothing is sent anywhere and a delivery takes no simulated time: the latency is the bridge's
polling, not a network.

Whether one bridge process keeps up with its fan-out is wall time, and that needs a real socket:
a queue of deliveries is sent to a ``ThreadingHTTPServer`` on 127.0.0.1 answering 200, and
deliveries per second are measured (signing, the address check, the POST over HTTP, the attempt
written to SQLite, one at a time as the worker sends them).

Nothing is asserted: a missed target is reported in the table.
"""

from __future__ import annotations

import json
import multiprocessing
import random
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from multiprocessing.sharedctypes import Synchronized
from pathlib import Path
from typing import Any

import requests
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict

from api_client import MxGuardClient, Secret
from api_client.contract import MICROS
from bench.report import Table
from bench.simulated_api import BASE_URL, PAGE_SECONDS, SimulatedApi
from bench.stream import (
    DOMAINS,
    TAIL_SECONDS,
    Delays,
    Stream,
    StreamShape,
    drive,
    generate_stream,
)
from bridge.delivery import Deliverer
from bridge.models import NewDelivery, Subscription
from bridge.outbox import matches, stream_key
from bridge.retry import RetrySchedule
from bridge.secrets_box import SecretBox
from bridge.service import DELIVERY_BATCH, BridgeService
from bridge.signing import new_secret, webhook_id
from bridge.sqlite import SQLiteBridgeStorage
from triggers.cursor import CursorState, SeenChanges
from triggers.polling.new_verdict import TRIGGER as NEW_VERDICT

RATE = 4.0
"""Verdicts a second: the stream benchmark's first rate (about 345,000 messages a day)."""
FULL_SECONDS = 3600.0
QUICK_SECONDS = 600.0
SUBSCRIPTION_COUNTS = (1, 10, 50)
ROUND_S = 60.0
"""``mxguard bridge serve``'s default ``--interval``."""
SEED = 20261123
TOKEN = "mxg_test_" + ("Bridge-Bench_" * 4)[:43]
CUSTOMER = "cus_sim000000000000000000"
RECEIVER = "https://receiver.bench.example/hooks"
"""The simulated receiver's base URL: each subscription posts to ``RECEIVER/<its id>``."""
PUBLIC_ADDRESS = "93.184.215.14"
"""What every target host resolves to in the simulated runs (no DNS; a public address, so the
bridge's address rules pass as they would in production)."""
FILTER_MIX: tuple[dict[str, Any], ...] = (
    {"verdict": ["phishing", "malware"]},
    {"verdict": ["phishing"], "domain": DOMAINS[0]},
    {"action": ["quarantined"]},
    {"verdict": ["malware"]},
    {"verdict": ["spam"], "domain": DOMAINS[1]},
    {"domain": DOMAINS[2], "action": ["quarantined", "rejected"]},
)
"""What the subscriptions after the first ask for, in turn: alerts, one domain's phishing,
quarantine reviews... The first takes every verdict, so every verdict is delivered at least
once in every run."""
FULL_QUEUED = 2_000
QUICK_QUEUED = 500
THROUGHPUT_SUBSCRIPTIONS = 10
INDEPENDENCE_TOLERANCE = 1
"""Requests may differ by one page across subscription counts and still count as equal."""


# -- the simulated runs ------------------------------------------------------------------------
@dataclass
class Received:
    """What the in-process receiver got: per (subscription, item), when (simulated µs)."""

    first_us: dict[tuple[str, str], int] = field(default_factory=dict)
    total: int = 0


class ReceiverAdapter(BaseAdapter):
    """A webhook receiver inside the process: answers 200 at once and notes what came and when
    on the simulated clock, without a socket (so nothing is sent anywhere)."""

    def __init__(self, api: SimulatedApi, received: Received) -> None:
        super().__init__()
        self.api = api
        self.received = received

    def send(
        self,
        request: requests.PreparedRequest,
        stream: bool = False,
        timeout: float | tuple[float, float] | tuple[float, None] | None = None,
        verify: bool | str = True,
        cert: bytes | str | tuple[bytes | str, bytes | str] | None = None,
        proxies: Mapping[str, str] | None = None,
    ) -> requests.Response:
        url = request.url or ""
        body = request.body if isinstance(request.body, bytes) else str(request.body).encode()
        item_id = str(json.loads(body)["data"]["id"])
        key = (url.rsplit("/", 1)[-1], item_id)
        self.received.total += 1
        self.received.first_us.setdefault(key, self.api.now_us())
        response = requests.Response()
        response.status_code = 200
        response.reason = "OK"
        response.headers = CaseInsensitiveDict({"Content-Length": "2"})
        response._content = b"ok"
        response.encoding = "utf-8"
        response.url = url
        response.request = request
        return response

    def close(self) -> None:
        """Nothing to release: no connections were opened."""


@dataclass(frozen=True)
class SimulatedRun:
    subscriptions: int
    verdicts: int
    requests: int
    """Everything the simulated MxGuard served in the run (the hour and its tail)."""
    busiest_hour: int
    """Most requests in any rolling hour: what MxGuard's 600/h applies to."""
    rejected: int
    expected: int
    """(subscription, verdict) pairs due: verdicts visible before the end that pass the
    subscription's filters."""
    delivered: int
    """Of those, how many were received."""
    duplicates: int
    latency: Delays
    """Visible in MxGuard to received, every (subscription, verdict) pair received."""
    late: Delays
    """The same, for the verdicts that became visible late (after ``prompt_seconds``)."""
    wall_s: float


def resolve_public(host: str, port: int) -> list[str]:
    return [PUBLIC_ADDRESS]


def subscriptions_for(count: int, fingerprint: str, created_us: int) -> list[Subscription]:
    """``count`` subscriptions of one customer's token to ``new_verdict``: the first to every
    verdict, the others in turn from ``FILTER_MIX``, with filters as the API stores them."""
    made = []
    rng = random.Random(SEED + count)
    for n in range(count):
        wanted = {} if n == 0 else FILTER_MIX[(n - 1) % len(FILTER_MIX)]
        sub_id = f"sub_{n:024x}"
        made.append(
            Subscription(
                id=sub_id,
                customer_id=CUSTOMER,
                token_fingerprint=fingerprint,
                event=NEW_VERDICT.key,
                filters=NEW_VERDICT.filters.model_validate(wanted).model_dump(mode="json"),
                target_url=f"{RECEIVER}/{sub_id}",
                secret=new_secret(rng.randbytes),
                created_at=created_us,
            )
        )
    return made


@contextmanager
def bridge_storage() -> Iterator[SQLiteBridgeStorage]:
    """A fresh bridge database in a temporary folder, with its own key."""
    with tempfile.TemporaryDirectory(prefix="mxguard-bench-bridge-") as folder:
        path = Path(folder)
        storage = SQLiteBridgeStorage(
            path / "bridge.sqlite", SecretBox.from_environment(path, environ={})
        )
        try:
            yield storage
        finally:
            storage.close()


def simulate(stream: Stream, count: int) -> SimulatedRun:
    """The real ``BridgeService`` with ``count`` subscriptions, a round every 60 s from the
    stream's start to the end of its tail, against its own simulated MxGuard and clock."""
    began = time.perf_counter()
    api = SimulatedApi(stream.log, start_us=stream.start_us, tokens=[TOKEN])
    received = Received()
    fingerprint = Secret(TOKEN).fingerprint
    subscriptions = subscriptions_for(count, fingerprint, stream.start_us - MICROS)

    def client(token: str) -> MxGuardClient:
        return MxGuardClient(
            token,
            BASE_URL,
            session=api.session(),
            clock=api.time,
            sleep=api.sleep,
            rate_limit_db=":memory:",
        )

    session = requests.Session()
    session.trust_env = False
    session.mount(RECEIVER + "/", ReceiverAdapter(api, received))
    with bridge_storage() as storage:
        storage.put_token(CUSTOMER, fingerprint, TOKEN)
        for subscription in subscriptions:
            storage.add_subscription(subscription)
        deliverer = Deliverer(
            storage,
            session=session,
            resolve=resolve_public,
            clock_us=api.now_us,
            rng=random.Random(SEED),
        )
        service = BridgeService(
            storage,
            triggers={NEW_VERDICT.key: NEW_VERDICT},
            client_factory=client,
            deliverer=deliverer,
            clock_us=api.now_us,
        )
        try:
            drive(api, stream, service.run_round)
        finally:
            service.close()
            session.close()
    return judge(stream, api, subscriptions, received, count, time.perf_counter() - began)


def judge(
    stream: Stream,
    api: SimulatedApi,
    subscriptions: Sequence[Subscription],
    received: Received,
    count: int,
    wall_s: float,
) -> SimulatedRun:
    """Compare what the receiver got with what was due: every verdict visible before the end,
    once per subscription whose filters it passes; latency from visible to received."""
    expected = delivered = 0
    latencies: list[int] = []
    late: list[int] = []
    prompt_us = int(stream.shape.prompt_seconds * MICROS)
    for index, verdict in enumerate(stream.log.items):
        if verdict.visible_us > stream.end_us:
            continue
        item = json.loads(stream.log.rendered(index))
        for subscription in subscriptions:
            if not matches(subscription.filters, item):
                continue
            expected += 1
            got = received.first_us.get((subscription.id, verdict.id))
            if got is not None:
                delivered += 1
                latencies.append(got - verdict.visible_us)
                if verdict.visible_us - verdict.scanned_us > prompt_us:
                    late.append(got - verdict.visible_us)
    return SimulatedRun(
        subscriptions=count,
        verdicts=len(stream.log),
        requests=api.requests_served(),
        busiest_hour=api.busiest_hour(),
        rejected=sum(api.rejected.values()),
        expected=expected,
        delivered=delivered,
        duplicates=received.total - len(received.first_us),
        latency=Delays.of(latencies),
        late=Delays.of(late),
        wall_s=wall_s,
    )


# -- throughput over real HTTP -----------------------------------------------------------------
@dataclass(frozen=True)
class Throughput:
    queued: int
    delivered: int
    received: int
    wall_s: float
    cpu_s: float

    @property
    def per_second(self) -> float:
        return self.delivered / self.wall_s if self.wall_s > 0 else 0.0


def _receiver_handler(count: Synchronized[int]) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # The answer's headers and body are two writes: with Nagle's algorithm the second waits
        # for the bridge's delayed ACK (40 ms), which would time the receiver, not the bridge.
        disable_nagle_algorithm = True

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", "0")))
            with count.get_lock():
                count.value += 1
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, format: str, *args: Any) -> None:
            return

    return Handler


def serve_fast_receiver(ports: multiprocessing.Queue[int], count: Synchronized[int]) -> None:
    """The receiver's process: a ``ThreadingHTTPServer`` on a free loopback port (sent back on
    ``ports``), counting the POSTs it answers, until terminated."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _receiver_handler(count))
    server.daemon_threads = True
    ports.put(int(server.server_address[1]))
    server.serve_forever()


class FastReceiver:
    """A webhook endpoint on 127.0.0.1 that answers 200 at once and counts, over kept-alive
    HTTP/1.1 as a production receiver would. It runs in a process of its own, so that its work
    neither takes the bridge's interpreter lock nor counts in the bridge's CPU time."""

    def __init__(self) -> None:
        self._count: Synchronized[int] = multiprocessing.Value("q", 0)
        self._ports: multiprocessing.Queue[int] = multiprocessing.Queue()
        self._process = multiprocessing.Process(
            target=serve_fast_receiver, args=(self._ports, self._count), daemon=True
        )
        self.base_url = ""

    @property
    def count(self) -> int:
        return int(self._count.value)

    def __enter__(self) -> FastReceiver:
        self._process.start()
        port = self._ports.get(timeout=30)
        self.base_url = f"http://127.0.0.1:{port}/hooks"
        return self

    def __exit__(self, *exc: object) -> None:
        self._process.terminate()
        self._process.join(timeout=5)


def throughput(queued: int, stream: Stream) -> Throughput:
    """``queued`` deliveries (the stream's first verdicts, spread over the subscriptions) put in
    the outbox as a pump commits them, then sent by the worker as a round does, timed."""
    per_subscription = queued // THROUGHPUT_SUBSCRIPTIONS
    fingerprint = Secret(TOKEN).fingerprint
    now_us = int(time.time() * MICROS)
    with FastReceiver() as receiver, bridge_storage() as storage:
        rng = random.Random(SEED)
        rows: list[NewDelivery] = []
        for n in range(THROUGHPUT_SUBSCRIPTIONS):
            sub_id = f"sub_{n:024x}"
            storage.add_subscription(
                Subscription(
                    id=sub_id,
                    customer_id=CUSTOMER,
                    token_fingerprint=fingerprint,
                    event=NEW_VERDICT.key,
                    filters={},
                    target_url=f"{receiver.base_url}/{sub_id}",
                    secret=new_secret(rng.randbytes),
                    created_at=now_us,
                )
            )
            for index in range(per_subscription):
                verdict = stream.log.items[index]
                rows.append(
                    NewDelivery(
                        subscription_id=sub_id,
                        webhook_id=webhook_id(sub_id, verdict.id),
                        event=NEW_VERDICT.key,
                        item=json.loads(stream.log.rendered(index)),
                        timestamp=verdict.scanned_us,
                        item_id=verdict.id,
                        created_at=now_us,
                    )
                )
        storage.commit(
            stream_key(fingerprint, NEW_VERDICT.key),
            CursorState.starting_at(0),
            SeenChanges(),
            rows,
        )
        deliverer = Deliverer(
            storage,
            allow_private_targets=True,
            schedule=RetrySchedule(jitter=0),
            rng=random.Random(SEED),
        )
        delivered = 0
        wall, cpu = time.perf_counter(), time.process_time()
        while True:  # the delivery half of BridgeService.run_round
            report = deliverer.deliver_due(DELIVERY_BATCH)
            delivered += report.delivered
            if report.attempted == 0 or report.failed == report.attempted:
                break
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        deliverer.session.close()
        return Throughput(len(rows), delivered, receiver.count, wall, cpu)


# -- the table ---------------------------------------------------------------------------------
def _progress(message: str) -> None:
    print(f"  bridge: {message}", file=sys.stderr, flush=True)


def run(quick: bool = False) -> Table:
    """One stream, replayed once per subscription count; then the throughput over HTTP."""
    seconds = QUICK_SECONDS if quick else FULL_SECONDS
    stream = generate_stream(RATE, seconds, random.Random(SEED))
    runs: list[SimulatedRun] = []
    for count in SUBSCRIPTION_COUNTS:
        outcome = simulate(stream, count)
        runs.append(outcome)
        _progress(
            f"{count} subscription(s): {outcome.requests} requests, {outcome.delivered:,}/"
            f"{outcome.expected:,} delivered ({outcome.wall_s:.1f} s)"
        )
    queued = QUICK_QUEUED if quick else FULL_QUEUED
    sent = throughput(queued, stream)
    _progress(f"throughput: {sent.delivered:,} in {sent.wall_s:.1f} s")

    reference = runs[0]
    rows: list[list[str]] = []
    judged: list[bool] = []
    for outcome in runs:
        spread = max(
            abs(outcome.requests - reference.requests),
            abs(outcome.busiest_hour - reference.busiest_hour),
        )
        independent = spread <= INDEPENDENCE_TOLERANCE
        judged.append(independent)
        if outcome is reference:
            verdict = "reference"
        elif independent:
            verdict = "pass"
        else:
            verdict = f"FAIL: {outcome.requests - reference.requests:+d} requests"
        rows.append(_simulated_row(outcome, verdict))
    rows.append(_throughput_row(sent))
    return Table(
        title="Bridge: MxGuard requests against subscriptions, delivery latency and throughput",
        target="requests independent of subscriptions (±1 page)",
        headers=[
            "run",
            "subscriptions",
            "verdicts",
            "MxGuard requests (busiest hour)",
            "requests, whole run",
            "429s",
            "webhooks received / due",
            "dup",
            "latency visible → received p50 / p99 / max",
            "late-visible verdicts only",
            "deliveries /s (wall)",
            "wall time",
            "target",
        ],
        rows=rows,
        passed=all(judged),
        method=_method(stream, queued),
        notes=_notes(runs, sent, quick),
    )


def _simulated_row(outcome: SimulatedRun, verdict: str) -> list[str]:
    return [
        "simulated hour",
        f"{outcome.subscriptions}",
        f"{outcome.verdicts:,}",
        f"{outcome.busiest_hour:,}",
        f"{outcome.requests:,}",
        f"{outcome.rejected:,}",
        f"{outcome.delivered:,} / {outcome.expected:,}",
        f"{outcome.duplicates:,}",
        outcome.latency.cell(),
        outcome.late.cell(),
        "-",
        f"{outcome.wall_s:.1f} s",
        verdict,
    ]


def _throughput_row(sent: Throughput) -> list[str]:
    return [
        "real HTTP, 127.0.0.1",
        f"{THROUGHPUT_SUBSCRIPTIONS}",
        "-",
        "-",
        "-",
        "-",
        f"{sent.received:,} / {sent.queued:,}",
        f"{max(0, sent.received - sent.delivered):,}",
        "-",
        "-",
        f"{sent.per_second:,.0f}",
        f"{sent.wall_s:.1f} s",
        "no target",
    ]


def _method(stream: Stream, queued: int) -> list[str]:
    shape = StreamShape()
    minutes = stream.seconds / 60
    return [
        f"One stream of {minutes:.0f} simulated minutes at {RATE:g} verdicts/s (seed {SEED}; "
        f"`bench.stream`'s generator: {shape.tie_share:.1%} tied batches, "
        f"{shape.late_share:.0%} of verdicts visible {shape.late_seconds[0]:.0f}-"
        f"{shape.late_seconds[1]:.0f} s late, one burst of {shape.burst_size:,}), "
        f"{len(stream.log):,} verdicts, replayed once per subscription count, each replay on "
        "its own simulated MxGuard (`bench.simulated_api`: the sandbox's paging, 60/min and "
        f"600/h per token, {PAGE_SECONDS:g} s of simulated time a request) and clock.",
        "The real `BridgeService` (one pump per token and event, the SQLite outbox, the "
        f"delivery worker, signed webhooks) runs a round every {ROUND_S:.0f} s from the "
        f"stream's start until {TAIL_SECONDS / 60:.0f} minutes after its end (a round that "
        "overruns lets the ticks it covered lapse), with the default budget, as `mxguard bridge "
        "serve` runs it. All subscriptions are on one token and exist before the stream "
        "starts; the first takes every verdict, the others filter in turn (phishing and "
        "malware; one domain's phishing; quarantined; malware; one domain's spam; one domain's "
        "quarantined or rejected), as the API stores filters.",
        "Deliveries go to an in-process `requests` adapter answering 200 (nothing is sent; a "
        "delivery takes no simulated time); target hosts resolve to one public address, so the "
        "address rules run as in production. Latency: simulated time the webhook was received "
        "minus the time the verdict became visible in MxGuard, over every (subscription, "
        "verdict) pair received; due: verdicts visible before the end that pass the "
        "subscription's filters.",
        f"Throughput: {queued:,} deliveries queued in the outbox ({THROUGHPUT_SUBSCRIPTIONS} "
        "subscriptions, the stream's first verdicts), then sent by the worker as a round "
        "sends them (batches "
        f"of {DELIVERY_BATCH}, one POST at a time, each attempt written to SQLite), to a "
        "`ThreadingHTTPServer` on 127.0.0.1 (a process of its own) answering 200 over "
        "kept-alive HTTP/1.1, private targets allowed; wall time of the sending only, on this "
        "machine.",
    ]


def _notes(runs: list[SimulatedRun], sent: Throughput, quick: bool) -> list[str]:
    counts = ", ".join(f"{r.subscriptions}: {r.requests}" for r in runs)
    fan_out = ", ".join(f"{r.subscriptions}: {r.delivered:,}" for r in runs)
    notes = [
        f"Requests to MxGuard by subscription count ({counts}): the pump polls the stream once, "
        f"unfiltered, whatever the number of subscribers; only the webhooks grow ({fan_out}).",
        "Latency is the round interval at work: a verdict visible on time waits for the next "
        f"round (up to {ROUND_S:.0f} s) plus the pages read before it. The tail (p99 above "
        f"{ROUND_S:.0f} s) is the {StreamShape().late_share:.0%} of verdicts that become visible "
        "late, behind the cursor: the pump's cursor finds them when it reads settled time "
        "again (the triggers' look-back), minutes later; they are timed from when they became "
        "visible, not from their `scanned_at`.",
        f"One worker sends {sent.per_second:,.0f} deliveries/s to a local receiver "
        f"({sent.cpu_s:.1f} s of this process's CPU for {sent.wall_s:.1f} s of wall time): the "
        "ceiling of one bridge process's fan-out when receivers answer at once; slower "
        "receivers lower it, since deliveries are sent one at a time.",
    ]
    if quick:
        notes.append(
            f"Quick run: a {QUICK_SECONDS / 60:.0f}-minute stream and {QUICK_QUEUED} queued "
            'deliveries; "busiest hour" is the whole run.'
        )
    return notes
