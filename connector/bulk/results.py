"""The result file: one CSV row per input row, in input order, rebuilt from the journal.

Columns: ``line``, ``op``, the operations' inputs (normalized as sent: ``domain``,
``real_mx_host``, ``pattern``, ``action``, ``note``, ``rule_id``), ``outcome``, ``id`` (of the
domain or rule made, changed or removed) and ``message``. Outcomes:

- ``created``, ``existing``, ``updated``, ``removed``, ``absent``: done (``existing`` and
  ``absent``: it was so already, as the action's repeat rule answers);
- ``conflict``: MxGuard's state refuses it (the message says why and what to do);
- ``invalid``: not sent, the row is wrong (``--skip-invalid``);
- ``error``: failed (the message says how); a run started again sends it again;
- ``pending``: not sent yet, the run stopped first; a run started again sends it.

The file is written whole to a temporary file beside it and renamed over it, so a reader never
sees half of it; the journal, fsynced per row, is what it is made from.
"""

from __future__ import annotations

import contextlib
import csv
import os
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

from connector.bulk.errors import BulkError
from connector.bulk.journal import JournalState, sync_folder
from connector.bulk.rows import BulkFile, Row, input_names

OUTCOMES = (
    "created",
    "existing",
    "updated",
    "removed",
    "absent",
    "conflict",
    "invalid",
    "error",
    "pending",
)


def default_results(input_path: Path) -> Path:
    """``onboard.csv`` -> ``onboard.results.csv``, beside the input."""
    return input_path.with_name(f"{input_path.stem}.results.csv")


def columns() -> list[str]:
    return ["line", "op", *input_names(), "outcome", "id", "message"]


def result_rows(bulk: BulkFile, state: JournalState | None) -> list[dict[str, Any]]:
    """One result per input row, in input order."""
    return [_result(row, state) for row in bulk.rows]


def _result(row: Row, state: JournalState | None) -> dict[str, Any]:
    result: dict[str, Any] = {"line": row.line, "op": row.op, **row.inputs()}
    entry = state.entries.get(row.line) if state else None
    if not row.valid:
        result.update(
            outcome="invalid", message="; ".join(f"{p.field}: {p.message}" for p in row.problems)
        )
    elif entry is not None:
        result.update(outcome=entry.outcome, id=entry.id or "", message=entry.message)
    elif state is not None and row.line in state.in_flight:
        result.update(
            outcome="pending",
            message="in flight when the run stopped; run again to finish (its repeat rule makes "
            "sending it again harmless)",
        )
    else:
        result.update(outcome="pending", message="not sent: the run stopped first; run again")
    return result


def tally(results: list[dict[str, Any]]) -> Counter[str]:
    return Counter(str(result["outcome"]) for result in results)


def write_results(path: Path, results: list[dict[str, Any]]) -> None:
    """Write ``results`` to ``path`` atomically (a temporary file beside it, renamed)."""
    try:
        descriptor, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    except OSError as error:
        raise BulkError(f"cannot write the results {path}: {error.strerror}") from None
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8", newline="") as out:
            writer = csv.DictWriter(out, fieldnames=columns(), extrasaction="ignore")
            writer.writeheader()
            writer.writerows(
                {key: "" if value is None else value for key, value in result.items()}
                for result in results
            )
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    except OSError as error:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise BulkError(
            f"cannot write the results {path}: {error.strerror}; the journal keeps every "
            "outcome, run again to write them"
        ) from None
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    sync_folder(path.parent)
