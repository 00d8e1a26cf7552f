"""How a bulk run shows its progress on stderr: a rich bar on a terminal, lines in a log.

The ETA comes from the runner, computed from the token's budget (``plan.pace``), not from the
speed so far: at 60 requests a minute the first minute's burst would promise far too much.
"""

from __future__ import annotations

from typing import TextIO

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn

from connector.bulk.plan import duration
from connector.bulk.rows import Row

LINES = 10
"""A log gets a line each tenth of the rows (and one per long wait)."""


def _eta(seconds: float) -> str:
    return f"ETA {duration(seconds)}" if seconds >= 0.5 else "ETA now"


class RichProgress:
    """A live bar: rows done of all, what the last row came to or what the run waits for, and
    the ETA from the budget."""

    def __init__(self, console: Console) -> None:
        self._bar = Progress(
            TextColumn("[progress.description]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[eta]}"),
            console=console,
        )
        self._task: TaskID | None = None

    def begin(self, total: int, done: int, eta: float) -> None:
        self._bar.start()
        self._task = self._bar.add_task("bulk apply", total=total, completed=done, eta=_eta(eta))

    def advance(self, row: Row, outcome: str, eta: float) -> None:
        if self._task is not None:
            self._bar.update(
                self._task,
                advance=1,
                description=f"line {row.line} {row.op}: {outcome}",
                eta=_eta(eta),
            )

    def waiting(self, seconds: float | None, reason: str) -> None:
        if self._task is not None:
            how_long = f" {duration(seconds)}" if seconds is not None else ""
            self._bar.update(self._task, description=f"waiting{how_long}: {reason}")

    def end(self) -> None:
        self._bar.stop()


class LineProgress:
    """Status lines for a log (stderr is not a terminal): a tenth of the rows at a time."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._total = self._done = 0
        self._every = 1

    def _say(self, text: str) -> None:
        print(f"bulk: {text}", file=self._stream, flush=True)

    def begin(self, total: int, done: int, eta: float) -> None:
        self._total, self._done = total, done
        self._every = max(1, (total - done) // LINES)
        self._say(f"{done}/{total} rows done, {total - done} to go, {_eta(eta)} (from the budget)")

    def advance(self, row: Row, outcome: str, eta: float) -> None:
        self._done += 1
        if self._done % self._every == 0 or self._done == self._total:
            self._say(f"{self._done}/{self._total} rows, {_eta(eta)}")

    def waiting(self, seconds: float | None, reason: str) -> None:
        if seconds is not None and seconds > 90:
            self._say(f"waiting {duration(seconds)}: {reason}")

    def end(self) -> None:
        pass
