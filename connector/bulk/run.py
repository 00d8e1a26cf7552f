"""Running a bulk file: row after row at the token's pace, journaled, resumable.

Every request goes through the client's own limiter (both windows of the token, shared by the
processes of the machine), so MxGuard never has to answer 429. A wait longer than the client
takes by itself (the hour's budget spent: ``RateBudgetExhaustedError``, raised before anything
is sent) is waited out here with the injected sleep, and the row is sent then; so is a 429 (the
token used elsewhere too), after the time MxGuard names.

A row's failure is its own (``error`` or ``conflict`` in the result file) and the run goes on,
except when nothing after it could work: a token refused (401) or MxGuard unreachable stops the
run with that error; the row stays in flight in the journal and a run started again sends it.

The clock, the sleep and the progress display are injectable: tests run hours of budget in
no time, with the sandbox's clock moved instead.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from pydantic import BaseModel

from actions import ActionConflictError
from api_client import (
    APIConnectionError,
    AuthenticationError,
    ConflictError,
    InvalidTokenError,
    MxGuardClient,
    MxGuardError,
    NotFoundError,
    RateLimitedError,
)
from api_client.config import Clock, Sleep
from api_client.contract import MAX_PAGE_SIZE
from api_client.ratelimit import DEFAULT_MARGIN, MINUTE
from connector.bulk.errors import InvalidRowsError, JournalMismatchError, ResultsFileError
from connector.bulk.journal import SUCCEEDED, Entry, Header, Journal
from connector.bulk.plan import pace, request_cost
from connector.bulk.results import result_rows, tally, write_results
from connector.bulk.rows import BulkFile, Row, bulk_actions
from connector.exits import describe

STOPPING = (AuthenticationError, InvalidTokenError, APIConnectionError)
"""Errors after which no row can succeed: the run stops (and can be started again)."""
MAX_RATE_WAITS = 20
"""Waits for the budget in a row for one row before the run gives up (someone else keeps
spending the token's budget)."""
OUTCOME_NAMES = {"already_absent": "absent"}
"""The actions' outcomes as the result file names them."""


class Progress(Protocol):
    """What a run shows while it goes (a rich bar on a terminal, lines in a log, nothing)."""

    def begin(self, total: int, done: int, eta: float) -> None:
        """``total`` rows, ``done`` of them already (journal, invalid); ``eta`` seconds left."""

    def advance(self, row: Row, outcome: str, eta: float) -> None:
        """One more row finished; ``eta`` seconds left, from the budget."""

    def waiting(self, seconds: float | None, reason: str) -> None:
        """The run waits for the token's budget (``seconds`` when known)."""

    def end(self) -> None: ...


class NoProgress:
    """Shows nothing (``-q``, and the default for library use)."""

    def begin(self, total: int, done: int, eta: float) -> None:
        pass

    def advance(self, row: Row, outcome: str, eta: float) -> None:
        pass

    def waiting(self, seconds: float | None, reason: str) -> None:
        pass

    def end(self) -> None:
        pass


@dataclass(frozen=True)
class Report:
    """What a run did: the outcome of every row, and what it cost in requests and time."""

    results: list[dict[str, Any]]
    results_path: Path
    journal_path: Path
    sent_rows: int
    """Rows sent by this run (not those a journal had done already)."""
    requests: int
    """Requests this run's rows cost (one a row, two when a repeat rule looked up)."""
    seconds: float
    """This run's time, on its clock."""
    least_seconds: float
    """The least time the token's limits allow for as many requests from a full budget."""
    per_minute: int
    per_hour: int

    @property
    def outcomes(self) -> Counter[str]:
        return tally(self.results)


def invalid_rows_error(bulk: BulkFile) -> InvalidRowsError:
    problems = bulk.problems
    rows = len(bulk.invalid)
    listed = "\n".join(f"  {problem}" for problem in problems)
    return InvalidRowsError(
        f"{bulk.path}: {rows} of {len(bulk.rows)} rows cannot be sent, so nothing was sent "
        f"(fix them, or pass --skip-invalid to send the others):\n{listed}"
    )


def check_paths(bulk: BulkFile, results: Path, journal: Path) -> None:
    """Before anything is sent: the result file can be written and clobbers nothing it must
    not (the input, the journal)."""
    places = {"the input file": bulk.path, "the journal": journal}
    for what, place in places.items():
        if results.resolve() == place.resolve():
            raise ResultsFileError(
                f"--results {results} is {what}; give the results their own file"
            )
    if journal.resolve() == bulk.path.resolve():
        raise ResultsFileError(f"--journal {journal} is the input file; give the journal its own")
    if not results.parent.is_dir():
        raise ResultsFileError(
            f"cannot write the results {results}: {results.parent} is not a folder"
        )
    if results.is_dir():
        raise ResultsFileError(f"--results {results} is a folder; give a file name")
    if not os.access(results.parent, os.W_OK):
        raise ResultsFileError(f"cannot write the results {results}: {results.parent} is read-only")


def apply(
    bulk: BulkFile,
    client: MxGuardClient,
    *,
    results: Path,
    journal: Path,
    skip_invalid: bool = False,
    clock: Clock = time.time,
    sleep: Sleep = time.sleep,
    progress: Progress | None = None,
) -> Report:
    """Send ``bulk``'s rows through ``client`` and write the result file; resumable through
    ``journal``. Raises ``InvalidRowsError`` (nothing sent) when a row is invalid, unless
    ``skip_invalid``. The result file is written however the run ends (an error, Ctrl-C)."""
    if bulk.invalid and not skip_invalid:
        raise invalid_rows_error(bulk)
    check_paths(bulk, results, journal)
    token = client.token.fingerprint
    header = Header(
        input=bulk.path.name,
        sha256=bulk.sha256,
        rows=len(bulk.rows),
        server=client.base_url,
        token=token,
    )
    with Journal.open(journal, header) as opened:
        if opened.state.header.token != token:
            check_account(client, bulk, opened)
            opened.new_token(token)
        runner = Runner(bulk, client, opened, clock, sleep, progress or NoProgress())
        try:
            runner.run()
        finally:
            write_results(results, result_rows(bulk, opened.state))
        return runner.report(results, journal, result_rows(bulk, opened.state))


LOOKUPS = 3
"""Objects of the journal looked up at most to tell whether another token is of its account."""


def check_account(client: MxGuardClient, bulk: BulkFile, journal: Journal) -> None:
    """Another token than the journal's: go on only when it sees what the journal recorded (a
    rotated token of the same account), or when nothing was done yet. One to three requests.

    A domain added or changed is looked up by name: the same id is the same account, another id
    another account. A rule added is looked for in its domain's first page of rules."""
    state = journal.state
    recorded = [entry for entry in state.entries.values() if entry.outcome in SUCCEEDED]
    if not recorded:
        return
    rows = {row.line: row for row in bulk.rows}
    checked = 0
    for entry in recorded:
        row = rows.get(entry.line)
        domain = row.inputs().get("domain") if row is not None else None
        if not entry.id or not isinstance(domain, str) or entry.outcome == "removed":
            continue
        if entry.op not in ("add_domain", "update_domain", "add_sender_rule"):
            continue
        if checked == LOOKUPS:
            break
        checked += 1
        try:
            if entry.op == "add_sender_rule":
                page = client.sender_rules.page(domain, limit=MAX_PAGE_SIZE)
                if any(rule.id == entry.id for rule in page.data):
                    return
                continue
            found = client.domains.get(domain)
        except NotFoundError:
            continue  # removed since, or another account: another entry may tell
        if found.id == entry.id:
            return
        break  # the same name with another id: another account
    raise JournalMismatchError(
        f"{journal.path} records a run with another token (fingerprint {state.header.token}) "
        f"and this token ({client.token.fingerprint}) does not see the domains or rules it "
        "recorded: resume with a token of that account, or give this run its own --journal"
    )


class Runner:
    """One run over the rows a journal has not done yet."""

    def __init__(
        self,
        bulk: BulkFile,
        client: MxGuardClient,
        journal: Journal,
        clock: Clock,
        sleep: Sleep,
        progress: Progress,
    ) -> None:
        self.bulk = bulk
        self.client = client
        self.journal = journal
        self.clock = clock
        self.sleep = sleep
        self.progress = progress
        self.actions = bulk_actions()
        budget = client.rate_budget
        self.per_minute, self.per_hour = budget.per_minute, budget.per_hour
        self.sent: list[float] = []
        """When this run's requests went (approximately: each row's at its answer)."""
        self.sent_rows = 0
        self.started = clock()
        self._seed_history(budget.minute_remaining, budget.hour_remaining)
        self._own = len(self.sent)

    def todo(self) -> list[Row]:
        done = self.journal.state.done
        return [row for row in self.bulk.rows if row.valid and row.line not in done]

    def run(self) -> None:
        todo = self.todo()
        self.progress.begin(
            len(self.bulk.rows), len(self.bulk.rows) - len(todo), self.eta(len(todo))
        )
        try:
            for index, row in enumerate(todo):
                entry = self.send(row)
                self.sent_rows += 1
                self.progress.advance(row, entry.outcome, self.eta(len(todo) - index - 1))
        finally:
            self.progress.end()

    def send(self, row: Row) -> Entry:
        """Send one row (waiting for the budget as long as it takes) and journal its outcome."""
        assert row.data is not None
        action = self.actions[row.op]
        replay = row.line in self.journal.state.in_flight
        self.journal.start(row.line)
        waits = 0
        while True:
            self._show_budget_wait()
            try:
                result = action.execute(self.client, row.data)
            except RateLimitedError as limited:
                # nothing was done: a 429, or a wait too long for the client (raised unsent)
                waits += 1
                if waits > MAX_RATE_WAITS:
                    raise
                self._wait(limited)
                continue
            except ActionConflictError as conflict:
                entry = self._entry(row, "conflict", message=conflict.message, cost=2)
            except ConflictError as conflict:
                entry = self._entry(row, "conflict", message=describe(conflict)[1], cost=1)
            except STOPPING:
                raise
            except MxGuardError as error:
                entry = self._entry(row, "error", message=describe(error)[1], cost=1)
            else:
                entry = self._success(row, result, replay)
            break
        self.journal.finish(entry)
        return entry

    def _success(self, row: Row, result: BaseModel, replay: bool) -> Entry:
        outcome = str(getattr(result, "outcome", "done"))
        outcome = OUTCOME_NAMES.get(outcome, outcome)
        first, repeat = request_cost(self.actions[row.op])
        cost = repeat if outcome in ("existing", "absent") else first
        message = ""
        if replay:
            message = "sent again after an earlier run stopped while it was in flight" + (
                "; that run had done it" if outcome in ("existing", "absent") else ""
            )
        identifier = getattr(result, "id", None)
        return self._entry(
            row,
            outcome,
            identifier=str(identifier) if identifier else None,
            message=message,
            cost=cost,
            replayed=replay,
        )

    def _entry(
        self,
        row: Row,
        outcome: str,
        *,
        identifier: str | None = None,
        message: str = "",
        cost: int,
        replayed: bool = False,
    ) -> Entry:
        now = self.clock()
        self.sent += [now] * cost
        return Entry(row.line, row.op, outcome, identifier, message, replayed, now)

    def _wait(self, limited: RateLimitedError) -> None:
        seconds = limited.retry_after if limited.retry_after is not None else MINUTE
        seconds = max(seconds, 0.001)
        if limited.status == 429:
            reason = "MxGuard answered 429 (the token is used elsewhere too)"
        elif seconds > MINUTE + DEFAULT_MARGIN:
            reason = f"the hour's budget ({self.per_hour}/h) is spent"
        else:
            reason = f"the minute's budget ({self.per_minute}/min) is spent"
        self.progress.waiting(seconds, reason)
        self.sleep(seconds)

    def _show_budget_wait(self) -> None:
        """Say so when the next request must wait (the client then waits by itself)."""
        budget = self.client.rate_budget
        if budget.remaining > 0:
            return
        if budget.minute_remaining == 0:
            self.progress.waiting(None, f"the minute's budget ({self.per_minute}/min) is spent")
        elif budget.hour_remaining == 0:
            self.progress.waiting(None, f"the hour's budget ({self.per_hour}/h) is spent")
        else:
            self.progress.waiting(None, "MxGuard says the token's budget is spent (used elsewhere)")

    def _seed_history(self, minute_left: int, hour_left: int) -> None:
        """Requests the token spent before this run (other runs, other processes), as the
        shared limiter counts them, placed where they hold the budget longest: the minute's
        at now, the rest of the hour's just outside the minute."""
        now = self.clock()
        in_minute = max(0, self.per_minute - minute_left)
        in_hour = max(0, self.per_hour - hour_left - in_minute)
        self.sent = [now - MINUTE - DEFAULT_MARGIN] * in_hour + [now] * in_minute

    def eta(self, rows: int) -> float:
        """Seconds until ``rows`` more rows are sent, one request each, at the budget's pace."""
        return pace(rows, self.per_minute, self.per_hour, sent=self.sent, now=self.clock())

    def report(
        self, results_path: Path, journal_path: Path, results: list[dict[str, Any]]
    ) -> Report:
        requests = len(self.sent) - self._own
        return Report(
            results=results,
            results_path=results_path,
            journal_path=journal_path,
            sent_rows=self.sent_rows,
            requests=requests,
            seconds=self.clock() - self.started,
            least_seconds=pace(requests, self.per_minute, self.per_hour, margin=0),
            per_minute=self.per_minute,
            per_hour=self.per_hour,
        )
