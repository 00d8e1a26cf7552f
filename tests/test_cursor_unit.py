"""The pure dedupe ``Cursor`` (triggers/cursor.py), one behaviour per test: which reads a poll
makes (``next_read``), which items of a page it emits (``new_items``), how the state moves
(``record``, ``prune``, ``stop_early``, ``finish_read``, ``take_changes``), what the policy costs
(``Traffic``) and what the budget allows. No server, no clock: times are plain microseconds."""

from __future__ import annotations

import math

import pytest

from triggers.cursor import (
    FRESH_OVERLAP_S,
    PAGE_FILL,
    RATE_STEP,
    RATE_WEIGHT,
    Cursor,
    CursorPolicy,
    CursorState,
    PollPlan,
    Traffic,
)

S = 1_000_000
"""One second in microseconds."""
POLICY = CursorPolicy(lateness_bound_s=10, sweep_interval_s=20, skew_margin_s=5)
DELAY = POLICY.settle_delay_us
"""lateness 10 s + skew margin 5 s = 15 s."""
OVERLAP = int(FRESH_OVERLAP_S * S)
START = 1_000 * S
PAGE = 100


def cursor_at(
    watermark: int = START,
    *,
    floor: int = 0,
    seen: dict[str, int] | None = None,
    last_sweep: int | None = None,
    rate: float = 0.0,
    last_poll: int | None = None,
) -> Cursor:
    state = CursorState(floor=floor, watermark=watermark, seen=dict(seen or {}))
    state.last_sweep, state.rate, state.last_poll = last_sweep, rate, last_poll
    return Cursor(state, POLICY)


def reads(cursor: Cursor, now: int, budget: float = math.inf) -> list[PollPlan]:
    """Every read of one poll at ``now``, as if each ended at once with nothing new."""
    made = []
    while (plan := cursor.next_read(now, page_size=PAGE, budget_per_hour=budget)) is not None:
        made.append(plan)
        cursor.finish_read(plan, 0, now)
        assert len(made) < 5, made
    return made


# -- the policy ------------------------------------------------------------------------------------


def test_settle_delay_is_the_lateness_bound_plus_the_skew_margin() -> None:
    assert DELAY == 15 * S
    assert POLICY.sweep_interval_us == 20 * S


def test_a_new_state_starts_with_watermark_at_the_floor() -> None:
    state = CursorState.starting_at(START)
    assert (state.floor, state.watermark, state.seen, state.last_sweep) == (START, START, {}, None)


def test_copy_of_a_state_shares_neither_seen_nor_spent() -> None:
    state = CursorState(floor=0, watermark=START, seen={"a": START}, spent={1: 1})
    copy = state.copy()
    copy.seen["b"] = START
    copy.spent[2] = 1
    assert (state.seen, state.spent) == ({"a": START}, {1: 1})


def test_settled_time_ends_a_settle_delay_before_the_last_sweep_began() -> None:
    assert cursor_at(last_sweep=START).settled == START - DELAY
    assert cursor_at(floor=START, last_sweep=START).settled == START
    assert cursor_at(floor=7).settled == 7


# -- next_read: live mode ------------------------------------------------------------------------


def test_with_no_traffic_measured_every_poll_sweeps_for_free() -> None:
    cursor = cursor_at(START, last_sweep=START)
    assert [(p.kind, p.since, p.until) for p in reads(cursor, START + S)] == [
        ("sweep", START - DELAY, None)
    ]


def test_a_sweep_is_one_read_and_counts_as_of_when_it_began() -> None:
    cursor = cursor_at(START, last_sweep=START)
    assert len(reads(cursor, START + 3 * S)) == 1
    assert cursor.state.last_sweep == START + 3 * S


def test_when_the_window_costs_more_than_a_fresh_read_a_poll_reads_fresh_only() -> None:
    # 10 items a second: the 15 s settle delay alone is 150 items, more than a page of 100
    cursor = cursor_at(START, last_sweep=START, rate=10, last_poll=START)
    made = reads(cursor, START + 5 * S)
    assert [(p.kind, p.since) for p in made] == [("fresh", START - OVERLAP)]


def test_a_fresh_read_never_starts_before_settled_time() -> None:
    cursor = cursor_at(START - 100 * S, last_sweep=START, rate=10, last_poll=START)
    assert reads(cursor, START + 5 * S)[0].since == START - DELAY


def test_when_a_settle_is_due_it_reads_settled_time_only_then_fresh() -> None:
    cursor = cursor_at(START, last_sweep=START, rate=3, last_poll=START)
    now = START + 20 * S
    made = reads(cursor, now)
    assert [(p.kind, p.since, p.until) for p in made] == [
        ("settle", START - DELAY, now - DELAY),
        ("fresh", now - DELAY, None),  # from settled time, which the settle just moved
    ]


def test_a_finished_settle_moves_settled_time_to_its_until() -> None:
    cursor = cursor_at(START, last_sweep=START, rate=3, last_poll=START)
    now = START + 20 * S
    reads(cursor, now)
    assert cursor.settled == now - DELAY


def test_a_settle_is_cut_to_the_whole_pages_it_fills() -> None:
    cursor = cursor_at(START, last_sweep=START)
    per_page_s = PAGE_FILL * PAGE / 10  # 9 s of traffic at 10 a second
    until = cursor.settle_until(START + 100 * S, rate=10, page_size=PAGE)
    whole = math.floor((100 + DELAY / S) * 10 / (PAGE_FILL * PAGE))
    assert until == cursor.settled + int(whole * per_page_s * S)
    within_a_page = cursor.settled + 5 * S
    assert cursor.settle_until(within_a_page, rate=10, page_size=PAGE) == within_a_page


def test_after_a_cut_settle_the_rest_is_read_later() -> None:
    cursor = cursor_at(START, last_sweep=START, rate=10, last_poll=START)
    plan = PollPlan(cursor.settled, "settle", START + 60 * S, until=START + 2 * S)
    cursor.finish_read(plan, 0, START + 60 * S)
    assert cursor.settled == START + 2 * S


# -- next_read: batch mode ---------------------------------------------------------------------


def test_over_budget_a_poll_only_settles_and_reads_each_stretch_once() -> None:
    cursor = cursor_at(START, last_sweep=START, rate=50, last_poll=START)
    now = START + 60 * S
    made = reads(cursor, now, budget=100)
    assert [(p.kind, p.since, p.until) for p in made] == [("settle", START - DELAY, now - DELAY)]


def test_batch_mode_skips_a_poll_whose_stretch_is_under_a_page_and_its_share() -> None:
    cursor = cursor_at(START, last_sweep=START, rate=0.1, last_poll=START - 55 * S)
    assert reads(cursor, START + 5 * S, budget=30) == []


def test_batch_mode_with_nothing_settled_yet_makes_no_request() -> None:
    cursor = cursor_at(START, last_sweep=START, rate=50, last_poll=START - 60 * S)
    assert reads(cursor, START, budget=100) == []


# -- next_read: resuming ---------------------------------------------------------------------------


def test_a_stopped_settle_resumes_at_its_page_with_its_until() -> None:
    cursor = cursor_at(START)
    cursor.stop_early(PollPlan(START - DELAY, "settle", START, until=START - 3 * S), "page-2")
    plan = cursor.next_read(START + 45 * S)
    assert plan == PollPlan(START - DELAY, "settle", START, "page-2", START - 3 * S)


def test_a_stopped_fresh_read_resumes_at_its_page_as_a_fresh_read() -> None:
    cursor = cursor_at(START, last_sweep=START)
    cursor.stop_early(PollPlan(START, "fresh", START + S), "page-3")
    plan = cursor.next_read(START + 45 * S)
    assert plan == PollPlan(START, "fresh", START + 45 * S, "page-3")


def test_stop_early_does_not_count_as_a_read_of_settled_time() -> None:
    cursor = cursor_at(START, last_sweep=START - 100 * S)
    cursor.stop_early(PollPlan(START - DELAY, "sweep", START), "next")
    assert cursor.state.last_sweep == START - 100 * S
    assert cursor.state.sweep_started == START


def test_a_finished_resumed_read_clears_the_resume_point() -> None:
    cursor = cursor_at(START)
    cursor.stop_early(PollPlan(START - DELAY, "settle", START, until=START - 3 * S), "next")
    plan = cursor.next_read(START + S)
    assert plan is not None
    cursor.finish_read(plan, 0, START + S)
    state = cursor.state
    assert (state.resume_since, state.resume_page, state.resume_until) == (None, None, None)


# -- the traffic estimate ------------------------------------------------------------------------


def test_the_first_whole_read_sets_the_rate() -> None:
    cursor = cursor_at(START)
    cursor.finish_read(PollPlan(START - 10 * S, "fresh", START), 50, START)
    assert cursor.state.rate == 5


def test_later_reads_move_the_rate_by_their_weight() -> None:
    cursor = cursor_at(START, rate=4)
    cursor.finish_read(PollPlan(START - 10 * S, "fresh", START), 60, START)
    assert cursor.state.rate == pytest.approx(RATE_WEIGHT * 6 + (1 - RATE_WEIGHT) * 4)


def test_a_burst_counts_at_most_rate_step_times_the_estimate() -> None:
    cursor = cursor_at(START, rate=4)
    cursor.finish_read(PollPlan(START - 10 * S, "fresh", START), 10_000, START)
    expected = RATE_WEIGHT * RATE_STEP * 4 + (1 - RATE_WEIGHT) * 4
    assert cursor.state.rate == pytest.approx(expected)


def test_a_resumed_read_does_not_measure() -> None:
    cursor = cursor_at(START, rate=4)
    cursor.finish_read(PollPlan(START - 10 * S, "fresh", START, page="p"), 10, START)
    assert cursor.state.rate == 4


def test_live_cost_is_fresh_reads_plus_settled_time_once() -> None:
    traffic = Traffic(rate=20, interval_s=60, page_size=500, budget_per_hour=600)
    fresh = math.ceil(20 * (60 + FRESH_OVERLAP_S) / 500) * 60
    settle = math.ceil(20 * 120 / 500) * 30
    assert traffic.live_cost_per_hour(CursorPolicy()) == fresh + settle
    assert traffic.mode(CursorPolicy()) == "live"


def test_batch_cost_reads_each_item_once_and_is_chosen_when_live_is_over_budget() -> None:
    traffic = Traffic(rate=60, interval_s=60, page_size=500, budget_per_hour=500)
    assert traffic.batch_cost_per_hour() == math.ceil(60 * 60 / 500) * 60
    assert traffic.mode(CursorPolicy()) == "batch"


def test_traffic_over_what_the_budget_can_read_falls_behind_by_the_difference() -> None:
    traffic = Traffic(rate=100, interval_s=60, page_size=500, budget_per_hour=360)
    assert traffic.behind_per_hour_s() == pytest.approx(3600 * (1 - 360 * 500 / 360_000))
    assert Traffic(1, 60, 500, 360).behind_per_hour_s() == 0


# -- the budget ----------------------------------------------------------------------------------


def test_spent_counts_the_last_hour_by_whole_minutes() -> None:
    cursor = cursor_at()
    cursor.spend(START, 3)
    cursor.spend(START + 30 * 60 * S, 2)
    assert cursor.spent_last_hour(START + 30 * 60 * S) == 5
    assert cursor.spent_last_hour(START + 61 * 60 * S) == 2


def test_spend_forgets_minutes_older_than_the_hour() -> None:
    cursor = cursor_at()
    cursor.spend(START, 3)
    cursor.spend(START + 2 * 3600 * S)
    assert sum(cursor.state.spent.values()) == 1


def test_allowance_is_what_is_left_of_the_hour_at_most_twice_a_polls_share() -> None:
    cursor = cursor_at(last_poll=START - 60 * S)
    assert cursor.allowance(START, 600) == 20  # 10 a poll on average, twice that at most
    cursor.spend(START - 30 * S, 595)
    assert cursor.allowance(START, 600) == 5


def test_allowance_without_a_budget_is_unbounded() -> None:
    assert cursor_at().allowance(START, math.inf) == math.inf


# -- new_items, record, prune, take_changes ------------------------------------------------------


def test_new_items_are_the_unseen_ones_in_page_order() -> None:
    cursor = cursor_at(START, seen={"b": START})
    page = [(START, "a"), (START, "b"), (START + S, "c"), (START + 2 * S, "d")]
    assert cursor.new_items(page) == [0, 2, 3]


def test_an_item_older_than_settled_time_is_not_new() -> None:
    cursor = cursor_at(START, last_sweep=START)
    assert cursor.new_items([(START - DELAY - 1, "old"), (START - DELAY, "edge")]) == [1]


def test_recorded_item_is_seen_and_moves_the_watermark_forward_only() -> None:
    cursor = cursor_at(START)
    cursor.record(START + 5 * S, "new")
    cursor.record(START + S, "late")
    assert cursor.new_items([(START + S, "late")]) == []
    assert cursor.state.watermark == START + 5 * S
    assert cursor.changes.added == {"new": START + 5 * S, "late": START + S}


def test_prune_forgets_ids_before_settled_time_and_says_where() -> None:
    cursor = cursor_at(START, last_sweep=START, seen={"old": START - DELAY - 1, "kept": START})
    cursor.prune()
    assert cursor.state.seen == {"kept": START}
    assert cursor.changes.removed_before == START - DELAY


def test_take_changes_hands_over_the_batch_and_starts_a_new_one() -> None:
    cursor = cursor_at(START)
    cursor.record(START, "a")
    taken = cursor.take_changes()
    assert taken.added == {"a": START}
    assert cursor.changes.added == {}
    assert cursor.changes.removed_before is None


def test_a_page_of_a_read_of_settled_time_settles_what_lies_before_its_last_item() -> None:
    cursor = cursor_at(START, floor=0, seen={"a": 10 * S, "b": 20 * S, "c": 30 * S})
    plan = PollPlan(0, "sweep", START)
    cursor.read_up_to(plan, 20 * S)
    assert cursor.settled == 20 * S, "items stamped 20 s may go on on the next page"
    cursor.prune()
    assert cursor.state.seen == {"b": 20 * S, "c": 30 * S}


def test_a_page_never_settles_past_the_reads_own_end() -> None:
    cursor = cursor_at(START)
    cursor.read_up_to(PollPlan(0, "settle", START, until=5 * S), 9 * S)
    assert cursor.settled == 5 * S
    cursor.read_up_to(PollPlan(0, "sweep", START), START)
    assert cursor.settled == START - DELAY


def test_a_fresh_read_settles_nothing() -> None:
    cursor = cursor_at(START, floor=0)
    cursor.read_up_to(PollPlan(START, "fresh", START + S), START + S)
    assert cursor.settled == 0
