"""``mxguard bulk apply FILE``: many actions from one file, at the token's pace, resumable.

The work is ``connector/bulk/``; this module reads the options, picks the progress display and
turns a bulk error into its exit code.
"""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

import click
from rich.console import Console

from api_client.config import resolve_rate_limits
from connector.bulk.journal import Header, check_header, default_journal, read_journal
from connector.bulk.plan import duration, make_plan
from connector.bulk.progress import LineProgress, RichProgress
from connector.bulk.results import OUTCOMES, default_results
from connector.bulk.rows import BulkFile, read_bulk_file
from connector.bulk.run import NoProgress, Progress, Report, apply, invalid_rows_error
from connector.cli.base import Settings, pass_settings
from connector.exits import OPERATION_ERRORS, Exit


@click.group(short_help="Apply many actions from one file, at the token's pace.")
def bulk() -> None:
    """Many actions from one file: validated first, sent at the token's pace, resumable."""


@bulk.command(
    "apply",
    short_help="Apply a CSV or JSON-lines file of operations, one a row.",
    epilog="See docs/bulk.md.",
)
@click.argument("file", type=click.Path(path_type=Path))
@click.option(
    "--results",
    type=click.Path(path_type=Path),
    help="The result file (CSV): one row per input row, in order, with its outcome "
    "[default: FILE's name with .results.csv, beside it].",
)
@click.option(
    "--journal",
    type=click.Path(path_type=Path),
    help="What each row came to, fsynced per row; a run started again resumes from it "
    "[default: FILE.journal, beside it].",
)
@click.option(
    "--dry-run",
    is_flag=True,
    help="Validate and print the plan: rows per operation, requests, time at the token's "
    "limits. Sends nothing, writes nothing.",
)
@click.option(
    "--skip-invalid",
    is_flag=True,
    help="Send the valid rows; invalid ones get the outcome 'invalid' (default: send nothing "
    "while a row is invalid).",
)
@pass_settings
def apply_command(
    settings: Settings,
    file: Path,
    results: Path | None,
    journal: Path | None,
    dry_run: bool,
    skip_invalid: bool,
) -> None:
    """Apply FILE: one operation a row, sent at the token's pace with a journal.

    \b
    FILE is CSV with a header row (.csv, or any name whose content does not start with '{'),
    or JSON lines with the same keys (.jsonl, .ndjson, .json, or content starting with '{').
    Column 'op' is one of: add_domain, update_domain, remove_domain, add_sender_rule,
    remove_sender_rule; the others are the action's inputs (domain, real_mx_host, pattern,
    action, note, rule_id). Empty cells are absent inputs.

    \b
    Every row is validated first (line numbers and fields of every bad row); nothing is sent
    while a row is invalid, unless --skip-invalid. The requests go through the client's rate
    limiter (zero 429s), a progress bar on stderr (-q: none) shows an ETA from the budget.
    Killed and started again with the same arguments, the run sends no row again that
    succeeded; a journal of another file, server or account is refused.

    \b
    Outcomes: created, existing, updated, removed, absent (done); conflict; invalid; error
    (sent again by a next run); pending (not sent yet). Exit code 0 when every row sent is
    done, 6 when some conflicted, 1 when some ended in error.
    """
    _apply(settings, file, results, journal, dry_run=dry_run, skip_invalid=skip_invalid)


def _apply(
    settings: Settings,
    file: Path,
    results: Path | None,
    journal: Path | None,
    *,
    dry_run: bool,
    skip_invalid: bool,
) -> None:
    data = read_bulk_file(file)
    journal = journal or default_journal(file)
    results = results or default_results(file)
    if data.invalid and skip_invalid:
        settings.say(
            f"{len(data.invalid)} of {len(data.rows)} rows are invalid"
            + " (skipped: outcome 'invalid'):\n"
            + "\n".join(f"  {problem}" for problem in data.problems)
        )
    if dry_run:
        _dry_run(settings, data, journal)
        if data.invalid and not skip_invalid:
            raise invalid_rows_error(data)
        return
    if data.invalid and not skip_invalid:
        raise invalid_rows_error(data)
    with settings.client() as client:
        report = apply(
            data,
            client,
            results=results,
            journal=journal,
            skip_invalid=skip_invalid,
            progress=_progress(settings),
        )
    _summary(report)


def _dry_run(settings: Settings, data: BulkFile, journal: Path) -> None:
    per_minute, per_hour = resolve_rate_limits(settings.per_minute, settings.per_hour)
    state = read_journal(journal)
    if state is not None:
        wanted = Header(input=data.path.name, sha256=data.sha256, rows=len(data.rows))
        check_header(journal, state.header, wanted)
    plan = make_plan(data, per_minute, per_hour, done=state.done if state else ())
    kind = "CSV" if data.format == "csv" else "JSON lines"
    click.echo(f"plan for {data.path} ({kind}):")
    for line in plan.describe():
        click.echo(line)
    if state is None:
        click.echo(f"journal: {journal} (none yet: every row will be sent)")
    else:
        click.echo(
            f"journal: {journal} ({len(state.done & {r.line for r in data.rows})} rows done, "
            f"{len(state.in_flight)} in flight: resumed, the run sends the rest)"
        )
    click.echo("dry run: nothing was sent")


def _progress(settings: Settings) -> Progress:
    if settings.quiet:
        return NoProgress()
    console = Console(stderr=True)
    if console.is_terminal:
        return RichProgress(console)
    return LineProgress(sys.stderr)


def _summary(report: Report) -> None:
    outcomes: Counter[str] = report.outcomes
    counts = ", ".join(f"{outcomes[o]} {o}" for o in OUTCOMES if outcomes[o])
    click.echo(f"{len(report.results)} rows: {counts}")
    click.echo(
        f"this run: {report.sent_rows} rows, {report.requests} requests in "
        f"{duration(report.seconds)}; the token's limits ({report.per_minute}/min, "
        f"{report.per_hour}/h) allow {duration(report.least_seconds)} at best"
    )
    click.echo(f"results: {report.results_path}")
    click.echo(f"journal: {report.journal_path}")
    failed = [f"{outcomes[o]} {o}" for o in ("error", "conflict", "pending") if outcomes[o]]
    if failed:
        code = Exit.FAILED if outcomes["error"] or outcomes["pending"] else Exit.CONFLICT
        raise OPERATION_ERRORS[code](
            f"{' and '.join(failed)} of {len(report.results)} rows: see {report.results_path}"
            + ("; run again to send the errors again" if outcomes["error"] else "")
        )
