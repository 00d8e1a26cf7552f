"""Several bridge workers on one PostgreSQL database (``tox -e pg``): three real
``mxguard bridge serve --db ... --no-api`` processes share six customers' tokens; one is killed
with SIGKILL, one is stopped with SIGSTOP in the middle of a poll, past its lease, and resumed.

Shown: every verdict published reaches its subscription (nothing lost), a repeat always carries
the same ``webhook-id``, the resumed worker's late commit is refused (it says so), the survivor
takes every token over, and MxGuard (the sandbox, which counts answers by status per token)
never had to answer 429.
"""

from __future__ import annotations

import signal
import subprocess
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from api_client import Secret
from bridge.models import Subscription
from bridge.postgres import PostgresBridgeStorage
from bridge.secrets_box import KEY_ENV, SecretBox
from bridge.signing import SignatureError, verify
from sandbox.server import SandboxServer
from tests.bridge_live import bridge_env, serve_command, wait_for
from tests.bridge_support import ON_POSTGRES, Receiver, database_at
from tests.support import SandboxAdmin

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not ON_POSTGRES, reason="several workers need PostgreSQL (tox -e pg)"),
]

CUSTOMERS = 6
WORKERS = 3
LEASE_S = 10
"""The shortest lease the command line takes: a stopped worker's tokens move within it."""
PER_BATCH = 8


class Worker:
    """One ``mxguard bridge serve --no-api`` process; what it writes to stderr goes to a file."""

    def __init__(self, name: str, dsn: str, data: Path, sandbox_url: str, key: str) -> None:
        self.name = name
        self.log = data / f"{name}.log"
        env = bridge_env(sandbox_url, **{KEY_ENV: key})
        command = serve_command(
            data, "--no-api", "--db", dsn, "--worker-id", name, "--interval", "1",
            "--lease", str(LEASE_S),
        )  # fmt: skip
        with self.log.open("w") as log:
            self.process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=log)

    def said(self) -> str:
        return self.log.read_text()

    def signal(self, number: signal.Signals) -> None:
        self.process.send_signal(number)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGCONT)
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def token_leases(dsn: str) -> dict[str, str]:
    """Fingerprint -> the worker holding its lease now (the database's clock decides)."""
    with psycopg.connect(dsn) as db:
        rows = db.execute(
            "SELECT substr(name, 7), holder FROM leases WHERE name LIKE 'token:%' "
            "AND expires_at > clock_timestamp()"
        ).fetchall()
    return {row[0]: row[1] for row in rows}


def streams_started(dsn: str) -> int:
    with psycopg.connect(dsn) as db:
        row = db.execute("SELECT count(*) FROM streams").fetchone()
    return int(row[0]) if row else 0


@pytest.fixture
def workers() -> Iterator[list[Worker]]:
    made: list[Worker] = []
    yield made
    for worker in made:
        worker.stop()


def test_failover_loses_nothing_and_refuses_the_late_commit(
    roomy_sandbox: SandboxServer, receiver: Receiver, tmp_path: Path, workers: list[Worker]
) -> None:
    admin = SandboxAdmin(roomy_sandbox)
    dsn = database_at(tmp_path / "workers")
    key = SecretBox.generate_key()
    accounts = [admin.new_account(domains=("example.com",)) for _ in range(CUSTOMERS)]
    secrets = {}
    with PostgresBridgeStorage(
        dsn, SecretBox.from_environment(tmp_path, environ={KEY_ENV: key})
    ) as storage:
        for n, account in enumerate(accounts):
            fingerprint = Secret(account.token).fingerprint
            storage.put_token(account.customer_id, fingerprint, account.token)
            secret = SecretBox.generate_key()  # 32 random bytes, base64: a valid whsec_ body
            secrets[account.customer_id] = "whsec_" + secret.replace("-", "+").replace("_", "/")
            storage.add_subscription(
                Subscription(
                    id=f"sub_{n:024x}",
                    customer_id=account.customer_id,
                    token_fingerprint=fingerprint,
                    event="new_verdict",
                    filters={},
                    target_url=f"{receiver.url}/{n}",
                    secret=secrets[account.customer_id],
                    created_at=0,
                )
            )
    fingerprints = {Secret(a.token).fingerprint: a for a in accounts}

    for n in range(WORKERS):
        workers.append(Worker(f"w{n + 1}", dsn, tmp_path, roomy_sandbox.base_url, key))
    first, second, third = workers

    def shared_out() -> bool:
        held = token_leases(dsn)
        per_worker: dict[str, int] = defaultdict(int)
        for holder in held.values():
            per_worker[holder] += 1
        return len(held) == CUSTOMERS and sorted(per_worker.values()) == [2, 2, 2]

    wait_for(shared_out, 60, "the six tokens shared two by two")
    wait_for(lambda: streams_started(dsn) == CUSTOMERS, 60, "every stream's first poll")

    published: dict[str, int] = defaultdict(int)

    def publish(seed: int) -> None:
        for account in accounts:
            made = admin.traffic(account, PER_BATCH, spread_seconds=1, seed=seed)["created"]
            published[account.customer_id] += made

    publish(1)
    first.signal(signal.SIGKILL)
    publish(2)

    # the second worker stopped in the middle of a poll: its request to MxGuard held for 4 s
    victim = next(fp for fp, holder in token_leases(dsn).items() if holder == second.name)
    account = fingerprints[victim]
    before = admin.requests_served(account)["total"]
    admin.fault(
        kind="delay",
        delay_seconds=4,
        count=1,
        token_id=account.token_id,
        method="GET",
        path_prefix="/api/v1/verdicts",
    )
    wait_for(lambda: admin.requests_served(account)["total"] > before, 30, "its next poll")
    second.signal(signal.SIGSTOP)
    wait_for(
        lambda: (
            set(token_leases(dsn).values()) == {third.name} and len(token_leases(dsn)) == CUSTOMERS
        ),
        90,
        "the survivor holding every token",
    )
    publish(3)
    second.signal(signal.SIGCONT)
    wait_for(lambda: "nothing written" in second.said(), 60, "the resumed worker's refusal")

    expected = sum(published.values())
    wait_for(lambda: len(received_items(receiver, secrets)) >= expected, 120, "every item")
    per_customer: dict[str, set[str]] = defaultdict(set)
    for customer, item_id in received_items(receiver, secrets):
        per_customer[customer].add(item_id)
    assert {c: len(ids) for c, ids in per_customer.items()} == dict(published)
    ids_of: dict[tuple[str, str], set[str]] = defaultdict(set)
    for customer, item_id, webhook_id in verified(receiver, secrets):
        ids_of[(customer, item_id)].add(webhook_id)
    assert all(len(ids) == 1 for ids in ids_of.values()), "a repeat keeps its webhook-id"
    assert "taken over" in second.said() or "expired" in second.said()
    for account in accounts:
        statuses = admin.requests_served(account)["by_status"]
        assert statuses.get("429", 0) == 0, statuses
        assert account.token not in first.said() + second.said() + third.said()
    for worker in workers:
        worker.stop()
    assert token_leases(dsn) == {}, "the workers stopped cleanly gave their leases back"


def verified(receiver: Receiver, secrets: dict[str, str]) -> list[tuple[str, str, str]]:
    """(customer, item id, webhook-id) of every request received, each verified with its
    subscription's secret (the one that verifies it names the customer)."""
    found = []
    for got in list(receiver.received):
        for customer, secret in secrets.items():
            try:
                body = verify(secret, got.body, got.headers, now=None, tolerance_s=10**9)
            except SignatureError:
                continue
            found.append((customer, body["data"]["id"], got.headers["webhook-id"]))
            break
        else:
            raise AssertionError("a request no subscription's secret verifies")
    return found


def received_items(receiver: Receiver, secrets: dict[str, str]) -> set[tuple[str, str]]:
    return {(customer, item) for customer, item, _ in verified(receiver, secrets)}
