"""``mxguard poll TRIGGER``: one command per trigger, its filters as options."""

from __future__ import annotations

import math
from contextlib import ExitStack
from datetime import datetime
from typing import Any

import click

from api_client import MxGuardError
from api_client.config import parse_rate
from api_client.contract import MAX_PAGE_SIZE
from connector import registry
from connector.cli.base import NamedGroup, Settings, pass_settings, validated
from connector.cursor_store import SQLiteCursorStore
from connector.exits import InvalidInputError
from connector.options import collect, options_for
from connector.polling import (
    describe_report,
    follow,
    json_lines_sink,
    make_poller,
    open_cursor,
    open_store,
)
from triggers.base import to_micros

EARLIEST = "1970-01-01T00:00:00Z"
"""``--since`` before the Unix epoch is surely a typo: MxGuard keeps days of data, not ages."""


@click.group(cls=NamedGroup)
def poll() -> None:
    """Poll a trigger: one JSON object per line per new item.

    The first poll starts from now (or --since); the cursor is kept in --state, keyed by trigger,
    account, server and filters, and committed after each page is written. See
    docs/delivery-guarantees.md.
    """


class Seconds(click.ParamType[float]):
    """A finite number of seconds in a range (``nan`` and ``inf`` are refused)."""

    name = "seconds"

    def __init__(self, low: float, high: float) -> None:
        self.low, self.high = low, high

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> float:
        try:
            seconds = float(value)
        except (TypeError, ValueError):
            self.fail(f"{value!r} is not a number of seconds", param, ctx)
        if not math.isfinite(seconds) or not self.low <= seconds <= self.high:
            self.fail(f"{value} is not between {self.low:g} and {self.high:g} seconds", param, ctx)
        return seconds


class Rate(click.ParamType[float]):
    """Requests an hour, written ``200/h`` or ``5/min`` (as the rate limits are)."""

    name = "rate"

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> float:
        if isinstance(value, float):
            return value
        try:
            count, unit = parse_rate(str(value), "--budget")
        except MxGuardError as problem:
            self.fail(problem.message.removeprefix("--budget: "), param, ctx)
        return float(count * 60 if unit == "min" else count)


def poll_command(key: str) -> click.Command:
    trigger = registry.triggers()[key]

    @pass_settings
    def command(settings: Settings, /, **params: Any) -> None:
        filters = validated(trigger.filters, collect(trigger.filters, params, None))
        start = since(params["since"])
        with ExitStack() as stack:
            store = open_store(params["state"])
            if isinstance(store, SQLiteCursorStore):
                stack.enter_context(store)  # closed when the command ends, however it ends
            client = stack.enter_context(settings.client())
            if params["sample"]:
                sample = make_poller(trigger, client, filters, store, key=trigger.key)
                json_lines_sink()(sample.sample(params["limit"]))
                return
            opened = open_cursor(store, trigger, client, filters)
            for note in opened.notes:
                settings.say(f"note: {note}")
            poller = make_poller(
                trigger,
                client,
                filters,
                store,
                key=opened.key,
                start_us=start,
                page_size=params["page_size"],
                sweep_interval_s=params["look_back_every"],
                budget_per_hour=params["budget"],
            )
            with store.hold(opened.key):
                if params["reset"]:
                    store.forget(opened.key)
                if start is not None and store.exists(opened.key):
                    settings.say(
                        "note: --since applies to a new cursor only; add --reset to restart"
                    )
                sink = json_lines_sink()
                if params["follow"]:
                    follow(
                        lambda: poller.poll(sink),
                        trigger=trigger,
                        interval=params["interval"],
                        say=settings.say,
                    )
                else:
                    settings.say(describe_report(trigger, poller.poll(sink)))

    params: list[click.Parameter] = [
        *options_for(trigger.filters),
        click.Option(
            ["--state"],
            metavar="PATH",
            help="Cursor database (default: in the user data folder; ':memory:': none).",
        ),
        click.Option(
            ["--since"],
            metavar="TIME",
            help="Backfill: a new cursor starts here (RFC 3339) instead of now.",
        ),
        click.Option(
            ["--sample"],
            is_flag=True,
            help="Print the newest items without reading or moving the cursor.",
        ),
        click.Option(
            ["--limit"],
            type=click.IntRange(1, 100),
            default=3,
            show_default=True,
            help="How many items --sample prints.",
        ),
        click.Option(["--follow"], is_flag=True, help="Keep polling until interrupted."),
        click.Option(
            ["--interval"],
            type=Seconds(1, 86_400),
            default=60.0,
            show_default=True,
            help="Seconds between polls with --follow.",
        ),
        click.Option(["--reset"], is_flag=True, help="Forget the cursor first (starts from now)."),
        click.Option(
            ["--page-size"],
            type=click.IntRange(1, MAX_PAGE_SIZE),
            default=MAX_PAGE_SIZE,
            show_default=True,
        ),
        click.Option(
            ["--budget"],
            type=Rate(),
            metavar="RATE",
            help="This trigger's share of the token's requests, e.g. 200/h [default: the "
            "token's hourly limit less a sixth, left for actions].",
        ),
        click.Option(
            ["--look-back-every"],
            type=Seconds(1, 86_400),
            default=120.0,
            show_default=True,
            help="Seconds between reads of settled time, for late items (live mode).",
        ),
    ]
    return click.Command(
        registry.kebab(key),
        callback=command,
        params=params,
        help=trigger.description,
        short_help=trigger.label,
    )


def since(text: str | None) -> int | None:
    """``--since`` as microseconds; a time MxGuard cannot take is invalid input."""
    if text is None:
        return None
    try:
        value = datetime.fromisoformat(text.replace("z", "Z"))
    except ValueError as exc:
        raise InvalidInputError(f"--since: not an RFC 3339 time ({exc})") from None
    if value.tzinfo is None:
        raise InvalidInputError("--since: give a time zone, e.g. 2026-11-23T10:00:00Z")
    try:
        micros = to_micros(value)
    except (OverflowError, ValueError):
        raise InvalidInputError(f"--since: {text} is out of range") from None
    if micros < 0:
        raise InvalidInputError(f"--since: {text} is before {EARLIEST}")
    return micros


for _key in registry.triggers():
    poll.add_command(poll_command(_key))
