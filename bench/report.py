"""Result tables: printed on the console and written as ``BENCHMARKS.md``.

Every benchmark returns one ``Table`` with its target and whether it was met, so the report is
the same whatever was run, and a missed target is visible in one place.
"""

from __future__ import annotations

import os
import platform
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime


@dataclass
class Table:
    title: str
    target: str
    headers: list[str]
    rows: list[list[str]]
    passed: bool
    method: list[str] = field(default_factory=list)
    """How it was measured, one bullet each."""
    notes: list[str] = field(default_factory=list)
    """What the figures show, one bullet each."""
    seconds: float = 0.0
    """Wall time of the whole benchmark, setup included."""


@dataclass(frozen=True)
class RunInfo:
    command: str
    quick: bool
    seconds: float
    date: datetime = field(default_factory=lambda: datetime.now(UTC))


def verdict(passed: bool) -> str:
    return "pass" if passed else "FAIL"


def machine() -> str:
    cores = os.cpu_count() or 0
    return f"{platform.system()} {platform.machine()}, {cores} cores"


def markdown(tables: list[Table], run: RunInfo) -> str:
    lines = [
        "# Benchmarks",
        "",
        "Polling triggers and the bridge: API requests spent, throughput, memory, delivery on "
        "simulated streams, and webhooks pushed.",
        "",
        f"* Date: {run.date:%Y-%m-%d %H:%M} UTC",
        f"* Python: {platform.python_implementation()} {platform.python_version()}",
        f"* Machine: {machine()}",
        f"* Command: `{run.command}`" + (" (quick run: smaller sizes)" if run.quick else ""),
        f"* Whole run: {run.seconds:.0f} s",
        "",
        "| Benchmark | Target | Result |",
        "|---|---|---|",
        *(f"| {t.title} | {t.target} | {verdict(t.passed)} |" for t in tables),
        "",
        "Efficiency, throughput and memory run against the sandbox as a separate process "
        "(`mxguard sandbox` on 127.0.0.1, rate limits raised to 10^7/min and 10^8/h on both "
        "sides), so the client's CPU time and memory are measured on their own. The stream "
        "and bridge benchmarks replay simulated hours in-process on a simulated clock, with the "
        "sandbox's paging and its 60/min and 600/h limits (see their sections). Nothing here is "
        "a test: no timing is asserted; rerun with the command above.",
    ]
    for table in tables:
        lines += ["", f"## {table.title}", "", f"Target: {table.target}. Result: "]
        lines[-1] += f"**{verdict(table.passed)}** ({table.seconds:.0f} s including setup)."
        lines += ["", *_markdown_table(table.headers, table.rows)]
        if table.method:
            lines += ["", "How:", "", *(f"* {item}" for item in table.method)]
        if table.notes:
            lines += ["", "What it shows:", "", *(f"* {item}" for item in table.notes)]
    return "\n".join(lines) + "\n"


def _markdown_table(headers: list[str], rows: list[list[str]]) -> list[str]:
    aligns = ["---:" if _numeric(rows, i) else "---" for i in range(len(headers))]
    return [
        "| " + " | ".join(headers) + " |",
        "|" + "|".join(aligns) + "|",
        *("| " + " | ".join(row) + " |" for row in rows),
    ]


def _numeric(rows: list[list[str]], column: int) -> bool:
    cells = [row[column].replace(",", "").replace("%", "").lstrip("+-") for row in rows]
    return bool(cells) and all(cell.replace(".", "", 1).isdigit() for cell in cells)


def console(table: Table) -> str:
    widths = [
        max(len(h), *(len(row[i]) for row in table.rows)) for i, h in enumerate(table.headers)
    ]
    line = "  ".join(h.ljust(w) for h, w in zip(table.headers, widths, strict=True))
    out = [f"== {table.title}", f"   target: {table.target}", "", line, "-" * len(line)]
    out += ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in table.rows]
    out += ["", f"   {verdict(table.passed)} ({table.seconds:.1f} s)"]
    out += [f"   * {note}" for note in table.notes]
    return "\n".join(out)


def write(path: str, text: str) -> None:
    with open(path, "w", encoding="utf-8") as out:
        out.write(text)
    print(f"wrote {path}", file=sys.stderr)
