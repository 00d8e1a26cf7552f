"""The retry schedule and when a subscription is disabled (bridge/retry.py), one behaviour per
test. ``next_step`` is pure: times are plain microseconds and the jitter comes from a seeded or
stub generator, so nothing here reads a clock or sleeps."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from api_client.errors import MxGuardError
from bridge.retry import (
    STANDARD,
    STANDARD_DELAYS_S,
    Decision,
    Outcome,
    RetrySchedule,
    RetryScheduleError,
    next_step,
    parse_retry_after,
)

S = 1_000_000
"""One second in microseconds."""
MINUTE, HOUR, DAY = 60 * S, 3600 * S, 86400 * S
NOW_DT = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)
NOW = int(NOW_DT.timestamp()) * S
"""When the attempt under test ended."""
EXACT = RetrySchedule(jitter=0)
"""The standard schedule without jitter, to read its delays exactly."""


class Extreme(random.Random):
    """A generator whose ``uniform`` always gives one end of the range."""

    def __init__(self, end: str) -> None:
        super().__init__(0)
        self.end = end

    def uniform(self, a: float, b: float) -> float:
        return a if self.end == "low" else b


def failure(
    attempts: int = 1,
    status: int | None = 500,
    retry_after: str | None = None,
    failing_since: int | None = None,
    schedule: RetrySchedule = EXACT,
) -> Decision:
    return next_step(attempts, status, retry_after, failing_since, NOW, schedule=schedule)


# -- the schedule ----------------------------------------------------------------------------------


def test_the_standard_delays_are_the_standard_webhooks_schedule() -> None:
    assert STANDARD_DELAYS_S == (5, 300, 1800, 7200, 18000, 36000, 50400, 72000, 86400)


@pytest.mark.parametrize(
    ("attempts", "delay"),
    [
        (1, 5 * S),
        (2, 5 * MINUTE),
        (3, 30 * MINUTE),
        (4, 2 * HOUR),
        (5, 5 * HOUR),
        (6, 10 * HOUR),
        (7, 14 * HOUR),
        (8, 20 * HOUR),
        (9, 24 * HOUR),
    ],
)
def test_the_nth_failure_waits_the_nth_delay(attempts: int, delay: int) -> None:
    decision = failure(attempts, failing_since=NOW)
    assert (decision.outcome, decision.retry_at) == (Outcome.retry, NOW + delay)


def test_past_the_end_of_the_schedule_the_last_delay_repeats() -> None:
    assert failure(15, failing_since=NOW).retry_at == NOW + 24 * HOUR


def test_the_whole_standard_schedule_spans_about_75_hours() -> None:
    assert sum(STANDARD_DELAYS_S) == 75 * 3600 + 35 * 60 + 5


def test_attempts_so_far_counts_the_attempt_just_made() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        failure(0)


# -- jitter ----------------------------------------------------------------------------------------


def test_jitter_never_shortens_a_delay_by_more_than_10_percent() -> None:
    decision = next_step(2, 500, None, None, NOW, rng=Extreme("low"))
    assert decision.retry_at == NOW + round(0.9 * 5 * MINUTE)


def test_jitter_never_lengthens_a_delay_by_more_than_10_percent() -> None:
    decision = next_step(2, 500, None, None, NOW, rng=Extreme("high"))
    assert decision.retry_at == NOW + round(1.1 * 5 * MINUTE)


def test_jittered_delays_stay_within_10_percent_of_the_schedule() -> None:
    rng = random.Random(20300102)
    for attempts, delay_s in enumerate(STANDARD_DELAYS_S, start=1):
        for _ in range(200):
            retry_at = next_step(attempts, 503, None, NOW, NOW, rng=rng).retry_at
            assert retry_at is not None
            assert 0.9 * delay_s * S <= retry_at - NOW <= 1.1 * delay_s * S


def test_jitter_spreads_retries_of_the_same_failure() -> None:
    rng = random.Random(7)
    retries = {next_step(3, 500, None, None, NOW, rng=rng).retry_at for _ in range(50)}
    assert len(retries) > 40


def test_the_same_seed_gives_the_same_retry_time() -> None:
    first = next_step(4, None, None, None, NOW, rng=random.Random(3))
    again = next_step(4, None, None, None, NOW, rng=random.Random(3))
    assert first == again


def test_jitter_can_be_set_to_another_fraction() -> None:
    schedule = RetrySchedule(jitter=0.5)
    decision = next_step(1, 500, None, None, NOW, schedule=schedule, rng=Extreme("high"))
    assert decision.retry_at == NOW + round(1.5 * 5 * S)


# -- what counts as success ------------------------------------------------------------------------


@pytest.mark.parametrize("status", [200, 201, 202, 204, 299])
def test_a_2xx_answer_is_delivered(status: int) -> None:
    decision = failure(3, status=status, failing_since=NOW - HOUR)
    assert decision.outcome is Outcome.delivered
    assert decision.retry_at is None
    assert decision.failing_since is None


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_a_3xx_answer_is_a_failure_because_redirects_are_not_followed(status: int) -> None:
    decision = failure(1, status=status)
    assert decision.outcome is Outcome.retry
    assert decision.retry_at == NOW + 5 * S


@pytest.mark.parametrize("status", [100, 400, 401, 404, 500, 501])
def test_other_answers_are_failures(status: int) -> None:
    assert failure(1, status=status).outcome is Outcome.retry


def test_no_answer_is_a_failure() -> None:
    decision = failure(1, status=None)
    assert decision.outcome is Outcome.retry
    assert "no answer" in decision.reason


# -- failing_since ---------------------------------------------------------------------------------


def test_a_first_failure_starts_the_failing_streak_now() -> None:
    assert failure(1, failing_since=None).failing_since == NOW


def test_a_later_failure_keeps_when_the_streak_started() -> None:
    assert failure(4, failing_since=NOW - 3 * HOUR).failing_since == NOW - 3 * HOUR


# -- 410 and the disable limit ---------------------------------------------------------------------


def test_410_disables_at_once_even_on_the_first_attempt() -> None:
    decision = failure(1, status=410)
    assert decision.outcome is Outcome.disable
    assert decision.retry_at is None
    assert "410" in decision.reason


def test_a_subscription_failing_for_5_days_is_disabled() -> None:
    decision = failure(12, failing_since=NOW - 5 * DAY)
    assert decision.outcome is Outcome.disable
    assert "5d" in decision.reason


def test_a_subscription_failing_for_just_under_5_days_is_retried() -> None:
    assert failure(12, failing_since=NOW - 5 * DAY + 1).outcome is Outcome.retry


def test_the_disable_limit_is_configurable() -> None:
    schedule = RetrySchedule(jitter=0, disable_after_s=3600)
    assert failure(4, failing_since=NOW - HOUR, schedule=schedule).outcome is Outcome.disable


def test_a_success_after_a_long_streak_is_still_delivered() -> None:
    assert failure(20, status=200, failing_since=NOW - 6 * DAY).outcome is Outcome.delivered


# -- Retry-After -----------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [429, 502, 503, 504])
def test_retry_after_seconds_later_than_the_schedule_is_honoured(status: int) -> None:
    decision = failure(1, status=status, retry_after="120")
    assert decision.retry_at == NOW + 120 * S
    assert "Retry-After" in decision.reason


def test_retry_after_shorter_than_the_schedule_leaves_the_schedule() -> None:
    assert failure(3, status=503, retry_after="10").retry_at == NOW + 30 * MINUTE


def test_retry_after_as_an_http_date_is_honoured() -> None:
    header = format_datetime(NOW_DT + timedelta(hours=1), usegmt=True)
    assert failure(1, status=429, retry_after=header).retry_at == NOW + HOUR


def test_retry_after_as_an_http_date_in_the_past_leaves_the_schedule() -> None:
    header = format_datetime(NOW_DT - timedelta(hours=1), usegmt=True)
    assert failure(1, status=503, retry_after=header).retry_at == NOW + 5 * S


@pytest.mark.parametrize("status", [500, 404, 409, 301])
def test_retry_after_is_ignored_on_other_statuses(status: int) -> None:
    assert failure(1, status=status, retry_after="3600").retry_at == NOW + 5 * S


@pytest.mark.parametrize("header", ["soon", "-5", "1.5", "", "Mon, 99 Foo 2030 99:99:99 GMT"])
def test_a_malformed_retry_after_is_ignored(header: str) -> None:
    assert failure(1, status=503, retry_after=header).retry_at == NOW + 5 * S


def test_retry_after_is_capped_so_a_receiver_cannot_park_deliveries() -> None:
    decision = failure(1, status=429, retry_after=str(30 * 86400))
    assert decision.retry_at == NOW + DAY


def test_retry_after_does_not_save_a_subscription_past_the_disable_limit() -> None:
    decision = failure(12, status=503, retry_after="60", failing_since=NOW - 5 * DAY)
    assert decision.outcome is Outcome.disable


def test_parse_retry_after_reads_seconds() -> None:
    assert parse_retry_after(" 30 ", NOW) == NOW + 30 * S


def test_parse_retry_after_reads_an_http_date() -> None:
    assert parse_retry_after("Wed, 02 Jan 2030 03:05:05 GMT", NOW) == NOW + MINUTE


# -- operator overrides ----------------------------------------------------------------------------


def test_a_schedule_can_be_given_its_own_delays() -> None:
    schedule = RetrySchedule(delays_s=(1, 2), jitter=0)
    assert [failure(n, schedule=schedule).retry_at for n in (1, 2, 3)] == [
        NOW + 1 * S,
        NOW + 2 * S,
        NOW + 2 * S,
    ]


def test_parse_reads_seconds_minutes_hours_and_days() -> None:
    assert RetrySchedule.parse("5s,5m,30m,2h,1d").delays_s == (5, 300, 1800, 7200, 86400)


def test_parse_allows_spaces_and_fractions() -> None:
    assert RetrySchedule.parse(" 1.5s , 2 m ").delays_s == (1.5, 120)


def test_parse_takes_the_other_options() -> None:
    schedule = RetrySchedule.parse("5s", jitter=0.2, disable_after_s=600)
    assert (schedule.jitter, schedule.disable_after_s) == (0.2, 600)


def test_a_schedule_prints_in_the_syntax_parse_reads() -> None:
    assert str(STANDARD) == "5s,5m,30m,2h,5h,10h,14h,20h,1d"
    assert RetrySchedule.parse(str(STANDARD)).delays_s == STANDARD.delays_s


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("5", "delay 1 is '5'"),
        ("5s,,5m", "delay 2 is 'nothing'"),
        ("5s,5x", "delay 2 is '5x'"),
        ("5s,-5m", "delay 2 is '-5m'"),
        ("five seconds", "a number and a unit"),
        ("0s,5m", "more than 0"),
    ],
)
def test_parse_refuses_a_bad_schedule_saying_why(text: str, message: str) -> None:
    with pytest.raises(RetryScheduleError, match=message):
        RetrySchedule.parse(text)


def test_a_bad_schedule_error_is_a_value_error_and_an_mxguard_error() -> None:
    with pytest.raises(RetryScheduleError) as caught:
        RetrySchedule.parse("soon")
    assert isinstance(caught.value, ValueError)
    assert isinstance(caught.value, MxGuardError)


@pytest.mark.parametrize(
    "options",
    [
        {"delays_s": ()},
        {"jitter": -0.1},
        {"jitter": 1.0},
        {"disable_after_s": 0},
        {"max_retry_after_s": -1},
    ],
)
def test_a_schedule_refuses_unusable_settings(options: dict[str, object]) -> None:
    with pytest.raises(RetryScheduleError):
        RetrySchedule(**options)  # type: ignore[arg-type]
