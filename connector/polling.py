"""Running a trigger from the command line: cursor key, storage, JSON-lines output, follow mode."""

from __future__ import annotations

import hashlib
import json
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlsplit

from pydantic import BaseModel

from api_client import (
    APIConnectionError,
    MalformedResponseError,
    MxGuardClient,
    RateLimitedError,
    ServerError,
)
from api_client.contract import MAX_PAGE_SIZE, MICROS
from connector.cursor_store import SQLiteCursorStore, default_state_path
from triggers import MemoryCursorStore, Poller, PollReport
from triggers.base import TriggerDefinition
from triggers.cursor import DEFAULT_SWEEP_INTERVAL_S, CursorPolicy
from triggers.store import CursorStore

BUDGET_RESERVE = 3
"""Requests a poll leaves in the budget for the token's other users (actions, other triggers)."""
LOOPBACK_NAMES = {"localhost", "127.0.0.1", "::1", "[::1]", "localhost.localdomain"}
DEFAULT_PORTS = {"http": 80, "https": 443}
WAIT_AND_RETRY: tuple[type[Exception], ...] = (
    RateLimitedError,
    ServerError,
    APIConnectionError,
    MalformedResponseError,
)
"""What a follower outlives by waiting: limits, outages, a bad answer. Anything else (a revoked
token, filters MxGuard refuses) needs a person, so ``--follow`` stops on it."""
MAX_FAILURE_WAIT_S = 600.0
"""The longest a follower waits after an outage before trying again (a rate limit's wait is
taken as MxGuard or the budget says, however long)."""


def normalized_url(base_url: str) -> str:
    """One spelling per server: scheme and host in lower case, loopback names as 127.0.0.1,
    default port and trailing slash dropped."""
    parts = urlsplit(base_url.strip())
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if host in LOOPBACK_NAMES:
        host = "127.0.0.1"
    port = parts.port
    netloc = host if port is None or port == DEFAULT_PORTS.get(scheme) else f"{host}:{port}"
    return f"{scheme}://{netloc}{parts.path.rstrip('/')}"


def normalized_filters(filters: BaseModel) -> dict[str, Any]:
    """Filters as JSON, lists sorted and without repeats: ``--verdict spam --verdict clean``
    and the reverse are one filter."""
    dumped = filters.model_dump(mode="json")
    return {
        name: sorted(set(value)) if isinstance(value, list) else value
        for name, value in sorted(dumped.items())
    }


def cursor_scope(base_url: str, account_id: str, filters: BaseModel) -> dict[str, Any]:
    """The parts a cursor is keyed by, readable (kept beside the cursor, never the token)."""
    return {
        "account": account_id,
        "base_url": normalized_url(base_url),
        "filters": normalized_filters(filters),
    }


def cursor_key(trigger: TriggerDefinition[Any], scope: dict[str, Any]) -> str:
    """Trigger, account and a digest of server and filters: the same for a rotated token, for
    filters in another order, and for ``localhost`` and ``127.0.0.1``."""
    where = json.dumps({"base_url": scope["base_url"], "filters": scope["filters"]}, sort_keys=True)
    digest = hashlib.sha256(where.encode()).hexdigest()[:16]
    return f"{trigger.key}:{scope['account']}:{digest}"


def legacy_cursor_key(
    trigger: TriggerDefinition[Any], client: MxGuardClient, filters: BaseModel
) -> str:
    """The key of the first file layout (token fingerprint, URL and filters as given), so that a
    cursor kept under it is found and taken over instead of starting from now."""
    scope = json.dumps(
        {"base_url": client.base_url, "filters": filters.model_dump(mode="json")}, sort_keys=True
    )
    digest = hashlib.sha256(scope.encode()).hexdigest()[:16]
    return f"{trigger.key}:{client.token.fingerprint}:{digest}"


def open_store(state: str | None) -> CursorStore | SQLiteCursorStore:
    if state == ":memory:":
        return MemoryCursorStore()
    if state:
        return SQLiteCursorStore(Path(state))
    return SQLiteCursorStore(default_state_path(), create_parent=True)


@dataclass(frozen=True)
class OpenedCursor:
    key: str
    notes: list[str]
    """What a person should know: a cursor taken over from an older key, or a new cursor while
    others of the same trigger exist (and how they differ)."""


def open_cursor(
    store: CursorStore | SQLiteCursorStore,
    trigger: TriggerDefinition[Any],
    client: MxGuardClient,
    filters: BaseModel,
) -> OpenedCursor:
    """The cursor's key for this account (one ``/me`` request), server and filters."""
    scope = cursor_scope(client.base_url, client.me().id, filters)
    key = cursor_key(trigger, scope)
    if not isinstance(store, SQLiteCursorStore):
        return OpenedCursor(key, [])
    if store.exists(key):
        store.describe(key, scope)
        return OpenedCursor(key, [])
    notes: list[str] = []
    if store.rename(legacy_cursor_key(trigger, client, filters), key):
        notes.append("cursor carried over from an older file layout")
    else:
        for other in store.others(f"{trigger.key}:", key):
            notes.append(_how_it_differs(other.scope, scope))
        if notes:
            first = f"a new cursor starts; {trigger.key} has other cursors in {store.path}:"
            notes.insert(0, first)
    store.describe(key, scope)
    return OpenedCursor(key, notes)


def _how_it_differs(other: dict[str, Any], mine: dict[str, Any]) -> str:
    if not other:
        return "  one from an older layout (another token, server spelling or filter order)"
    parts = [
        f"{name} {other.get(name)!r}"
        for name in ("account", "base_url", "filters")
        if other.get(name) != mine[name]
    ]
    return "  one with other " + ", ".join(parts)


class OutputClosedError(Exception):
    """The reader of the JSON lines went away (``| head``): the page was not delivered, so its
    cursor is not committed."""


def json_lines_sink(stream: IO[str] | None = None) -> Callable[[Sequence[BaseModel]], None]:
    """Write one JSON object per item and flush, so a commit follows only delivered lines
    (default: standard output as it is when the sink writes)."""

    def sink(items: Sequence[BaseModel]) -> None:
        out = stream or sys.stdout
        try:
            out.write("".join(item.model_dump_json() + "\n" for item in items))
            out.flush()
        except BrokenPipeError:
            raise OutputClosedError("the output was closed by its reader") from None

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
    key: str,
    start_us: int | None = None,
    page_size: int = MAX_PAGE_SIZE,
    sweep_interval_s: float = DEFAULT_SWEEP_INTERVAL_S,
    budget_per_hour: float | None = None,
) -> Poller:
    """The trigger's ``Poller`` as the command line runs it: the client's clock, a stop before
    the token's shared rate budget runs dry, and this trigger's own share (``budget_per_hour``,
    default ``triggers.poller.default_budget``)."""
    clock = client.clock
    return Poller(
        trigger=trigger,
        client=client,
        filters=filters,
        store=store,
        key=key,
        clock_us=lambda: int(clock() * MICROS),
        policy=CursorPolicy(sweep_interval_s=sweep_interval_s),
        page_size=page_size,
        start_us=start_us,
        should_stop=budget_guard(client),
        budget_per_hour=budget_per_hour,
    )


def describe_report(trigger: TriggerDefinition[Any], report: PollReport) -> str:
    parts = [f"{trigger.key}: {report.emitted} new", f"{report.pages} page(s)"]
    if report.first_poll:
        parts.append("first poll: cursor created")
    if report.swept:
        parts.append("looked back for late items")
    if report.stopped_because:
        parts.append(f"stopped early ({report.stopped_because}); the next poll resumes")
    if report.mode == "batch":
        parts.append(
            f"batch mode: live reads would need more than the budget of "
            f"{report.budget_per_hour:.0f}/h, so each stretch is read once after it settled"
        )
    if report.behind_per_hour_s > 0:
        parts.append(
            f"the traffic needs {report.needed_per_hour:.0f} requests/h: falling behind by "
            f"{_duration(report.behind_per_hour_s)} an hour"
        )
    return ", ".join(parts)


def wait_after(error: Exception, interval: float) -> float:
    """How long a follower waits after ``error`` before its next poll."""
    if isinstance(error, RateLimitedError) and error.retry_after is not None:
        return max(interval, error.retry_after)
    return min(max(interval, 1.0), MAX_FAILURE_WAIT_S)


def follow(
    poll_once: Callable[[], PollReport],
    *,
    trigger: TriggerDefinition[Any],
    interval: float,
    say: Callable[[str], None],
    sleep: Callable[[float], None] = time.sleep,
    polls: int | None = None,
) -> None:
    """Poll every ``interval`` seconds until interrupted, waiting out rate limits and outages
    with a status line; errors that waiting cannot fix propagate. ``polls`` bounds the loop (for
    tests and benchmarks)."""
    done = 0
    while polls is None or done < polls:
        done += 1
        try:
            report = poll_once()
        except WAIT_AND_RETRY as error:
            wait = wait_after(error, interval)
            say(f"{trigger.key}: {_short(error)}; next poll in {_duration(wait)}")
        else:
            say(describe_report(trigger, report))
            wait = 0.0 if report.stopped_because == "max_pages" else interval
            if report.stopped_because == "budget" and report.budget_frees_in_s > interval:
                wait = report.budget_frees_in_s
                say(f"{trigger.key}: the trigger's budget is spent; next poll in {_duration(wait)}")
        if polls is None or done < polls:
            sleep(wait)


def _short(error: Exception) -> str:
    kind = "rate limited" if isinstance(error, RateLimitedError) else "MxGuard unavailable"
    return f"{kind} ({error})"


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    return f"{seconds / 60:.0f} min"
