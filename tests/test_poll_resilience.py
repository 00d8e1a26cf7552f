"""A follower keeps going: bursts larger than one poll's budget, 429 storms, an exhausted hour.

Everything runs on the sandbox's clock: the client's clock and sleep are a ``SandboxTime``, so an
hour's wait moves the sandbox's clock by an hour and takes no real time.
"""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from pydantic import BaseModel

from api_client import MxGuardClient
from connector.polling import follow, make_poller
from sandbox.server import SandboxServer
from tests.client_support import aligned_time
from tests.support import Account, SandboxAdmin, SandboxTime
from triggers import MemoryCursorStore, Poller
from triggers.polling.new_verdict import TRIGGER as NEW_VERDICT
from triggers.polling.new_verdict import VerdictFilters


class Collected:
    """A sink that keeps every emitted id, in order."""

    def __init__(self) -> None:
        self.ids: list[str] = []

    def __call__(self, items: Sequence[BaseModel]) -> None:
        self.ids += [item.model_dump()["id"] for item in items]


def follow_for(
    poller: Poller, sink: Collected, said: list[str], time: SandboxTime, *, polls: int
) -> None:
    """``mxguard poll --follow --interval 60`` for ``polls`` polls, on the sandbox's clock."""
    follow(
        lambda: poller.poll(sink),
        trigger=NEW_VERDICT,
        interval=60,
        say=said.append,
        sleep=time.sleep,
        polls=polls,
    )


def verdict_poller(
    sandbox: SandboxServer,
    account: Account,
    time: SandboxTime,
    *,
    page_size: int,
    budget_per_hour: float | None = None,
    **limits: int,
) -> tuple[MxGuardClient, Poller]:
    client = MxGuardClient(
        account.token,
        sandbox.base_url,
        rate_limit_db=":memory:",
        clock=time.clock,
        sleep=time.sleep,
        **limits,  # type: ignore[arg-type]
    )
    poller = make_poller(
        NEW_VERDICT,
        client,
        VerdictFilters(),
        MemoryCursorStore(),
        key="new_verdict",
        page_size=page_size,
        budget_per_hour=budget_per_hour,
    )
    return client, poller


def test_a_burst_of_several_polls_budgets_is_delivered_in_full_by_a_follower(
    sandbox: SandboxServer, admin: SandboxAdmin, account: Account
) -> None:
    time = aligned_time(admin)
    client, poller = verdict_poller(sandbox, account, time, page_size=20, per_minute=20)
    sink, said = Collected(), []
    with client:
        assert poller.poll(sink).first_poll
        time.sleep(61)
        admin.traffic(account, 1500, spread_seconds=60, seed=1)  # 75 pages; a poll reads ~17
        follow_for(poller, sink, said, time, polls=12)
        assert len(sink.ids) == 1500, "\n".join(said)
        time.sleep(600)
        admin.traffic(account, 50, spread_seconds=5, seed=2)
        # the look-back window still holds the burst: reading it again takes several polls
        follow_for(poller, sink, said, time, polls=8)
    assert len(sink.ids) == 1550, "\n".join(said)
    assert len(set(sink.ids)) == 1550, "nothing emitted twice"
    assert any("stopped early" in line for line in said), "the burst did exceed one poll's budget"


def test_follow_waits_out_a_429_storm(
    sandbox: SandboxServer, admin: SandboxAdmin, account: Account
) -> None:
    time = aligned_time(admin)
    client, poller = verdict_poller(sandbox, account, time, page_size=500)
    sink, said = Collected(), []
    with client:
        poller.poll(sink)
        admin.fault(kind="status", status=429, count=6, retry_after=30, token_id=account.token_id)
        time.sleep(1)
        admin.traffic(account, 10, spread_seconds=0.5, seed=3)
        follow_for(poller, sink, said, time, polls=4)
    assert len(sink.ids) == 10, said
    assert any("rate limited" in line for line in said), said


@pytest.mark.parametrize(
    ("budget", "waited_for"),
    [
        (None, "the trigger's budget is spent"),  # its share: 10 of the token's 12 an hour
        (1000.0, "rate limited"),  # a share above the token's limit: the client's limiter
    ],
)
def test_follow_waits_out_an_exhausted_hour(
    sandbox: SandboxServer,
    admin: SandboxAdmin,
    account: Account,
    budget: float | None,
    waited_for: str,
) -> None:
    time = aligned_time(admin)
    client, poller = verdict_poller(
        sandbox, account, time, page_size=1, budget_per_hour=budget, per_minute=5, per_hour=12
    )
    sink, said = Collected(), []
    with client:
        poller.poll(sink)
        time.sleep(1)
        admin.traffic(account, 30, spread_seconds=0.5, seed=4)  # 30 pages, 12 requests an hour
        follow_for(poller, sink, said, time, polls=40)
    assert len(sink.ids) == 30, "\n".join(said)
    assert len(set(sink.ids)) == 30
    waits = [line for line in said if waited_for in line]
    assert waits, said
    assert any(line.endswith("min") for line in waits), "it waited for the hour window, in minutes"
