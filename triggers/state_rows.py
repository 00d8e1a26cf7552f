"""A cursor's state as one SQL row, for every store that keeps it in a table: the trigger cursor
file (``connector/cursor_store.py``) and the bridge's streams (``bridge/sql.py``).

The ``seen`` ids live in a table of their own (one row per id, written as ``SeenChanges``
say); everything else is one row, in ``STATE_COLUMNS`` order, ``spent`` as compact JSON.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from triggers.cursor import CursorState

STATE_FIELDS = (
    "floor",
    "watermark",
    "last_sweep",
    "resume_since",
    "resume_page",
    "sweep_started",
    "resume_until",
    "rate",
    "last_poll",
    "spent",
)
STATE_COLUMNS = ", ".join(STATE_FIELDS)
STATE_PLACEHOLDERS = ", ".join("?" for _ in STATE_FIELDS)
STATE_UPDATE = ", ".join(f"{name} = excluded.{name}" for name in STATE_FIELDS)
"""The ``ON CONFLICT ... DO UPDATE SET`` list that overwrites a stored state."""


def state_values(state: CursorState) -> tuple[Any, ...]:
    """The row's values, in ``STATE_COLUMNS`` order."""
    return (
        state.floor,
        state.watermark,
        state.last_sweep,
        state.resume_since,
        state.resume_page,
        state.sweep_started,
        state.resume_until,
        state.rate,
        state.last_poll,
        json.dumps(state.spent, separators=(",", ":")),
    )


def state_from(row: Sequence[Any], seen: dict[str, int]) -> CursorState:
    """The state of a row in ``STATE_COLUMNS`` order, with its ``seen`` ids."""
    spent = json.loads(row[9] or "{}")
    return CursorState(
        floor=row[0],
        watermark=row[1],
        seen=seen,
        last_sweep=row[2],
        resume_since=row[3],
        resume_page=row[4],
        sweep_started=row[5],
        resume_until=row[6],
        rate=row[7],
        last_poll=row[8],
        spent={int(minute): count for minute, count in spent.items()},
    )
