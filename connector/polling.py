"""Running a trigger from the command line: cursor key, storage, JSON-lines output, follow mode."""

from __future__ import annotations

import hashlib
import json
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO, Any

from pydantic import BaseModel

from api_client import MxGuardClient
from connector.cursor_store import SQLiteCursorStore, default_state_path
from triggers import MemoryCursorStore, Poller, PollReport
from triggers.base import TriggerDefinition
from triggers.cursor import CursorPolicy
from triggers.store import CursorStore

BUDGET_RESERVE = 3
"""Requests a poll leaves in the budget for the token's other users (actions, other triggers)."""


def cursor_key(trigger: TriggerDefinition[Any], client: MxGuardClient, filters: BaseModel) -> str:
    """Trigger, token fingerprint (never the token) and a digest of server and filters."""
    scope = json.dumps(
        {"base_url": client.base_url, "filters": filters.model_dump(mode="json")}, sort_keys=True
    )
    digest = hashlib.sha256(scope.encode()).hexdigest()[:16]
    return f"{trigger.key}:{client.token.fingerprint}:{digest}"


def open_store(state: str | None) -> CursorStore | SQLiteCursorStore:
    if state == ":memory:":
        return MemoryCursorStore()
    return SQLiteCursorStore(Path(state) if state else default_state_path())


def json_lines_sink(stream: IO[str] = sys.stdout) -> Callable[[Sequence[BaseModel]], None]:
    """Write one JSON object per item and flush, so a commit follows only delivered lines."""

    def sink(items: Sequence[BaseModel]) -> None:
        stream.write("".join(item.model_dump_json() + "\n" for item in items))
        stream.flush()

    return sink


def budget_guard(client: MxGuardClient) -> Callable[[], str | None]:
    def should_stop() -> str | None:
        left = client.rate_budget.remaining
        return f"rate budget low ({left} requests left)" if left < BUDGET_RESERVE else None

    return should_stop


def make_poller(
    trigger: TriggerDefinition[Any],
    client: MxGuardClient,
    filters: BaseModel,
    store: CursorStore,
    *,
    start_us: int | None = None,
    page_size: int = 500,
    sweep_interval_s: float = 120.0,
    clock: Callable[[], float] = time.time,
) -> Poller:
    return Poller(
        trigger=trigger,
        client=client,
        filters=filters,
        store=store,
        key=cursor_key(trigger, client, filters),
        clock_us=lambda: int(clock() * 1_000_000),
        policy=CursorPolicy(sweep_interval_s=sweep_interval_s),
        page_size=page_size,
        start_us=start_us,
        should_stop=budget_guard(client),
    )


def describe_report(trigger: TriggerDefinition[Any], report: PollReport) -> str:
    parts = [f"{trigger.key}: {report.emitted} new", f"{report.pages} page(s)"]
    if report.first_poll:
        parts.append("first poll: cursor created")
    if report.swept:
        parts.append("looked back for late items")
    if report.stopped_because:
        parts.append(f"stopped early ({report.stopped_because}); the next poll resumes")
    return ", ".join(parts)
