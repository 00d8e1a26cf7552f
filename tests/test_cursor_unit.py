"""The pure dedupe ``Cursor`` (triggers/cursor.py), one behaviour per test: what a poll asks for
(``plan``), which items of a page it emits (``new_items``), and how the state moves (``record``,
``prune``, ``stop_early``, ``finish_poll``, ``take_changes``). No server, no clock: times are
plain microseconds."""

from __future__ import annotations

from triggers.cursor import Cursor, CursorPolicy, CursorState, PollPlan

S = 1_000_000
"""One second in microseconds."""
POLICY = CursorPolicy(lateness_bound_s=10, sweep_interval_s=20)
LOOKBACK = POLICY.lookback_us
"""lateness 10 s + sweep interval 20 s + the fixed 30 s margin = 60 s."""
START = 1_000 * S


def cursor_at(
    watermark: int = START,
    *,
    floor: int = 0,
    seen: dict[str, int] | None = None,
    last_sweep: int | None = None,
) -> Cursor:
    state = CursorState(floor=floor, watermark=watermark, seen=dict(seen or {}))
    state.last_sweep = last_sweep
    return Cursor(state, POLICY)


# -- the policy --------------------------------------------------------------------------------


def test_lookback_is_lateness_plus_sweep_interval_plus_margin() -> None:
    assert LOOKBACK == 60 * S
    assert POLICY.sweep_interval_us == 20 * S


def test_a_new_state_starts_with_watermark_at_the_floor() -> None:
    state = CursorState.starting_at(START)
    assert (state.floor, state.watermark, state.seen, state.last_sweep) == (START, START, {}, None)


def test_copy_of_a_state_does_not_share_seen() -> None:
    state = CursorState(floor=0, watermark=START, seen={"a": START})
    copy = state.copy()
    copy.seen["b"] = START
    assert state.seen == {"a": START}


# -- plan ----------------------------------------------------------------------------------------


def test_first_poll_is_a_look_back_over_the_window() -> None:
    plan = cursor_at(START).plan(now=START + 5 * S)
    assert plan == PollPlan(since=START - LOOKBACK, sweep=True, started=START + 5 * S)


def test_window_never_reaches_before_the_floor() -> None:
    cursor = cursor_at(START, floor=START - 10 * S)
    assert cursor.window_start == START - 10 * S
    assert cursor.plan(now=START).since == START - 10 * S


def test_poll_between_sweeps_asks_from_the_watermark_inclusive() -> None:
    cursor = cursor_at(START, last_sweep=START)
    plan = cursor.plan(now=START + 19 * S)
    assert plan == PollPlan(since=START, sweep=False, started=START + 19 * S)


def test_sweep_is_due_again_exactly_one_sweep_interval_after_the_last() -> None:
    cursor = cursor_at(START, last_sweep=START)
    plan = cursor.plan(now=START + 20 * S)
    assert plan.sweep
    assert plan.since == START - LOOKBACK


def test_plan_does_not_change_the_state() -> None:
    cursor = cursor_at(START, seen={"a": START})
    before = cursor.state.copy()
    cursor.plan(now=START + 100 * S)
    assert cursor.state == before


def test_poll_after_a_stopped_look_back_resumes_at_its_page_as_of_when_it_began() -> None:
    cursor = cursor_at(START)
    cursor.stop_early(PollPlan(since=START - LOOKBACK, sweep=True, started=START), "page-2")
    plan = cursor.plan(now=START + 45 * S)
    assert plan == PollPlan(since=START - LOOKBACK, sweep=True, started=START, page="page-2")


def test_poll_after_a_stopped_regular_poll_resumes_at_its_page_as_a_regular_poll() -> None:
    cursor = cursor_at(START, last_sweep=START)
    cursor.stop_early(PollPlan(since=START, sweep=False, started=START + S), "page-3")
    plan = cursor.plan(now=START + 45 * S)  # a sweep would be due, but the poll resumes first
    assert plan == PollPlan(since=START, sweep=False, started=START + 45 * S, page="page-3")


# -- new_items -----------------------------------------------------------------------------------


def test_new_items_are_the_unseen_ones_in_page_order() -> None:
    cursor = cursor_at(START, seen={"b": START})
    page = [(START, "a"), (START, "b"), (START + S, "c"), (START + 2 * S, "d")]
    assert cursor.new_items(page) == [0, 2, 3]


def test_an_unseen_item_tying_with_the_watermark_is_new() -> None:
    cursor = cursor_at(START, seen={"a": START})
    assert cursor.new_items([(START, "a"), (START, "z")]) == [1]


def test_an_item_older_than_the_window_is_not_new() -> None:
    cursor = cursor_at(START)
    assert cursor.new_items([(START - LOOKBACK - 1, "old")]) == []


def test_an_item_exactly_at_the_window_start_is_new() -> None:
    cursor = cursor_at(START)
    assert cursor.new_items([(START - LOOKBACK, "edge")]) == [0]


def test_an_item_older_than_the_floor_is_not_new() -> None:
    cursor = cursor_at(START, floor=START)
    assert cursor.new_items([(START - 1, "before"), (START, "at")]) == [1]


def test_new_items_does_not_change_the_state() -> None:
    cursor = cursor_at(START)
    cursor.new_items([(START, "a")])
    assert cursor.state.seen == {}
    assert cursor.state.watermark == START


# -- record --------------------------------------------------------------------------------------


def test_recorded_item_is_seen_and_no_longer_new() -> None:
    cursor = cursor_at(START)
    cursor.record(START + S, "a")
    assert cursor.state.seen == {"a": START + S}
    assert cursor.new_items([(START + S, "a")]) == []


def test_record_moves_the_watermark_to_the_newest_timestamp() -> None:
    cursor = cursor_at(START)
    cursor.record(START + 5 * S, "a")
    assert cursor.state.watermark == START + 5 * S


def test_record_of_an_older_item_never_moves_the_watermark_back() -> None:
    cursor = cursor_at(START)
    cursor.record(START + 5 * S, "new")
    cursor.record(START + S, "late")
    assert cursor.state.watermark == START + 5 * S


def test_record_adds_to_the_pending_changes() -> None:
    cursor = cursor_at(START)
    cursor.record(START, "a")
    assert cursor.changes.added == {"a": START}


# -- prune ---------------------------------------------------------------------------------------


def test_prune_forgets_ids_that_fell_out_of_the_window() -> None:
    cursor = cursor_at(START, seen={"old": START - LOOKBACK - 1, "kept": START - LOOKBACK})
    cursor.prune()
    assert cursor.state.seen == {"kept": START - LOOKBACK}


def test_prune_reports_where_the_store_may_drop_ids() -> None:
    cursor = cursor_at(START, seen={"old": START - LOOKBACK - 1})
    cursor.prune()
    assert cursor.changes.removed_before == START - LOOKBACK


def test_prune_drops_pending_additions_that_fell_out_of_the_window() -> None:
    cursor = cursor_at(START)
    cursor.record(START, "a")
    cursor.record(START + LOOKBACK + S, "b")  # moves the window past "a"
    cursor.prune()
    assert cursor.changes.added == {"b": START + LOOKBACK + S}
    assert cursor.state.seen == {"b": START + LOOKBACK + S}


def test_prune_with_nothing_out_of_the_window_changes_nothing() -> None:
    cursor = cursor_at(START, seen={"a": START})
    cursor.prune()
    assert cursor.state.seen == {"a": START}
    assert cursor.changes.removed_before is None


def test_pruned_item_is_still_not_emitted_again() -> None:
    cursor = cursor_at(START, seen={"old": START - LOOKBACK - 1})
    cursor.prune()
    assert cursor.new_items([(START - LOOKBACK - 1, "old")]) == []


# -- stop_early ----------------------------------------------------------------------------------


def test_stop_early_remembers_the_since_and_the_next_page() -> None:
    cursor = cursor_at(START, last_sweep=START)
    cursor.stop_early(PollPlan(since=START, sweep=False, started=START + S), "next")
    assert (cursor.state.resume_since, cursor.state.resume_page) == (START, "next")
    assert cursor.state.sweep_started is None


def test_stop_early_of_a_look_back_remembers_when_it_began() -> None:
    cursor = cursor_at(START)
    cursor.stop_early(PollPlan(since=START - LOOKBACK, sweep=True, started=START + S), "next")
    assert cursor.state.sweep_started == START + S


def test_stop_early_does_not_count_as_a_look_back() -> None:
    cursor = cursor_at(START, last_sweep=START - 100 * S)
    cursor.stop_early(PollPlan(since=START - LOOKBACK, sweep=True, started=START), "next")
    assert cursor.state.last_sweep == START - 100 * S


def test_stop_early_prunes() -> None:
    cursor = cursor_at(START, seen={"old": START - LOOKBACK - 1})
    cursor.stop_early(PollPlan(since=START, sweep=False, started=START), "next")
    assert cursor.state.seen == {}


# -- finish_poll ---------------------------------------------------------------------------------


def test_finished_look_back_counts_as_of_when_it_began() -> None:
    cursor = cursor_at(START)
    cursor.finish_poll(PollPlan(since=START - LOOKBACK, sweep=True, started=START - 30 * S))
    assert cursor.state.last_sweep == START - 30 * S


def test_finished_regular_poll_leaves_the_last_look_back_alone() -> None:
    cursor = cursor_at(START, last_sweep=START - 5 * S)
    cursor.finish_poll(PollPlan(since=START, sweep=False, started=START))
    assert cursor.state.last_sweep == START - 5 * S


def test_finish_poll_clears_a_resumed_poll() -> None:
    cursor = cursor_at(START)
    plan = PollPlan(since=START - LOOKBACK, sweep=True, started=START)
    cursor.stop_early(plan, "next")
    cursor.finish_poll(cursor.plan(now=START + S))
    state = cursor.state
    assert (state.resume_since, state.resume_page, state.sweep_started) == (None, None, None)
    assert state.last_sweep == START


def test_finish_poll_prunes() -> None:
    cursor = cursor_at(START, seen={"old": START - LOOKBACK - 1})
    cursor.finish_poll(PollPlan(since=START, sweep=False, started=START))
    assert cursor.state.seen == {}


# -- take_changes --------------------------------------------------------------------------------


def test_take_changes_hands_over_the_batch_and_starts_a_new_one() -> None:
    cursor = cursor_at(START)
    cursor.record(START, "a")
    taken = cursor.take_changes()
    assert taken.added == {"a": START}
    assert cursor.changes.added == {}
    assert cursor.changes.removed_before is None
