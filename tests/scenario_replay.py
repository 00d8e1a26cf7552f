"""Replays the shared cursor scenario table against the Python trigger and a live sandbox."""

from __future__ import annotations

import contextlib
import json
import secrets
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from api_client import MxGuardClient
from connector.cursor_store import SQLiteCursorStore
from sandbox.timefmt import format_us, parse_to_us
from tests.support import Account, SandboxAdmin
from triggers import CursorPolicy, Poller
from triggers.polling.new_verdict import TRIGGER as NEW_VERDICT
from triggers.polling.new_verdict import VerdictFilters

SCENARIO_FILE = Path(__file__).parent / "data" / "cursor_scenarios.json"
MICROS = 1_000_000


def load_scenarios() -> tuple[dict[str, Any], list[dict[str, Any]]]:
    table = json.loads(SCENARIO_FILE.read_text())
    return table["defaults"], table["scenarios"]


def expand(expect: Sequence[Any]) -> list[str]:
    ids: list[str] = []
    for entry in expect:
        if isinstance(entry, str):
            ids.append(entry)
        else:
            ids += [f"{entry['prefix']}{n:05d}" for n in range(entry["from"], entry["to"])]
    return ids


class SimulatedCrashError(Exception):
    """The process died after a sink delivered a page, before the cursor was committed."""


class ScenarioRun:
    def __init__(
        self,
        admin: SandboxAdmin,
        account: Account,
        defaults: dict[str, Any],
        state: Path,
        scenario: dict[str, Any] | None = None,
    ) -> None:
        self.admin = admin
        self.account = account
        self.tag = secrets.token_hex(4)
        self.t0 = parse_to_us(admin.now())
        self.elapsed = 0.0
        self.state_path = state
        self.policy = CursorPolicy(defaults["lateness_bound_s"], defaults["sweep_interval_s"])
        self.page_size = defaults["page_size"]
        settings = {**defaults, **(scenario or {})}
        self.activate = bool(settings.get("activate", False))
        """True: the trigger starts now, priming its window; False: it backfills from T0."""
        self.budget_per_hour = settings.get("budget_per_hour") or float("inf")
        self.client = MxGuardClient(
            account.token,
            admin.base_url,
            per_minute=10**6,
            per_hour=10**7,
            rate_limit_db=":memory:",
        )
        self.poller = self._new_poller()

    def _new_poller(self) -> Poller:
        return Poller(
            trigger=NEW_VERDICT,
            client=self.client,
            filters=VerdictFilters(),
            store=SQLiteCursorStore(self.state_path),
            key="scenario",
            clock_us=lambda: self.t0 + int(self.elapsed * MICROS),
            policy=self.policy,
            page_size=self.page_size,
            start_us=None if self.activate else self.t0,
            budget_per_hour=self.budget_per_hour,
        )

    def _verdict(self, item_id: str, at: float, late: float = 0) -> dict[str, Any]:
        return {
            "id": f"{self.tag}_{item_id}",
            "domain": "example.com",
            "scanned_at": format_us(self.t0 + int(at * MICROS)),
            "visible_after_seconds": late,
        }

    def run_step(self, step: dict[str, Any]) -> None:
        op = step["op"]
        if op == "add":
            items = [self._verdict(i["id"], i["at"], i.get("late", 0)) for i in step["items"]]
            self.admin.add_verdicts(self.account, items)
        elif op == "add_many":
            count, spread = step["count"], step.get("spread", 0)
            items = [
                self._verdict(f"{step['prefix']}{n:05d}", step["at"] + spread * n / count)
                for n in range(count)
            ]
            self.admin.add_verdicts(self.account, items)
        elif op == "advance":
            self.elapsed += step["seconds"]
            self.admin.advance_clock(step["seconds"])
        elif op == "restart":
            self.poller = self._new_poller()
        elif op == "poll":
            emitted, requests = self.poll(step)
            assert emitted == expand(step["expect"]), (step, emitted)
            if "expect_requests" in step:
                assert requests == step["expect_requests"], (step, requests)
        else:
            raise ValueError(f"unknown op {op!r}")

    def poll(self, step: dict[str, Any]) -> tuple[list[str], int]:
        """What a poll emitted, in order, and how many requests it made."""
        emitted: list[str] = []
        pages = 0
        hook = step.get("after_page")

        def sink(items: Sequence[BaseModel]) -> None:
            nonlocal pages
            pages += 1
            emitted.extend(str(item.model_dump()["id"]).split("_", 1)[1] for item in items)
            if step.get("crash_after_page") == pages:
                raise SimulatedCrashError
            if hook and hook["page"] == pages:
                for inner in hook["steps"]:
                    self.run_step(inner)

        requests = self.admin.requests_served(self.account)["total"]
        with contextlib.suppress(SimulatedCrashError):
            self.poller.poll(sink, max_pages=step.get("max_pages"))
        return emitted, self.admin.requests_served(self.account)["total"] - requests
