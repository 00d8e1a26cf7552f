"""The budget chart's geometry, drawn by the server as SVG: no chart library, no script needed.

One bar per minute of the last hour (requests that minute, against the per-minute limit), and a
line of the requests counted since the hour's start (against the hourly limit). Both are scaled
so that their limit is the top of the plot: a bar or the line reaching the top is a limit
reached, whichever it is, which is what an operator looks for at a glance.

Only numbers come out of here: the template writes them as SVG attributes (never ``style``,
which the console's Content-Security-Policy forbids inline).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from api_client.contract import MICROS
from bridge.console.view import MinuteSpend

WIDTH = 600
HEIGHT = 200
TOP = 10
"""Room above the limit line, for bars over the limit (another caller of the token)."""
BAR_GAP = 1.0


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    requests: int
    label: str
    """``HH:MM UTC``: the minute, for the bar's tooltip."""


@dataclass(frozen=True)
class BudgetChart:
    width: int
    height: int
    top: int
    """The limit line's y: requests equal to the limit reach it."""
    bars: list[Bar]
    hour_points: str
    """The running total's polyline, ``x,y`` pairs: one point a minute."""
    per_minute: int
    per_hour: int
    hour_total: int

    @property
    def point_count(self) -> int:
        return len(self.bars)


def _minute_label(minute_us: int) -> str:
    return time.strftime("%H:%M UTC", time.gmtime(minute_us // MICROS))


def budget_chart(minutes: list[MinuteSpend], per_minute: int, per_hour: int) -> BudgetChart:
    """The chart of ``minutes`` (oldest first) against ``per_minute`` and ``per_hour``."""
    plot = HEIGHT - TOP
    slot = WIDTH / max(1, len(minutes))
    bars: list[Bar] = []
    points: list[str] = []
    total = 0
    for index, minute in enumerate(minutes):
        share = min(minute.requests / max(1, per_minute), HEIGHT / plot)
        height = round(share * plot, 2)
        x = round(index * slot, 2)
        bars.append(
            Bar(
                x=x,
                y=round(HEIGHT - height, 2),
                width=round(max(1.0, slot - BAR_GAP), 2),
                height=height,
                requests=minute.requests,
                label=_minute_label(minute.minute),
            )
        )
        total += minute.requests
        hour_share = min(total / max(1, per_hour), HEIGHT / plot)
        points.append(f"{round(x + slot / 2, 2)},{round(HEIGHT - hour_share * plot, 2)}")
    return BudgetChart(
        width=WIDTH,
        height=HEIGHT,
        top=TOP,
        bars=bars,
        hour_points=" ".join(points),
        per_minute=per_minute,
        per_hour=per_hour,
        hour_total=total,
    )
