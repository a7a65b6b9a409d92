"""Due times of tickets in business hours (Mon-Fri 09:00-17:00 UK time): pure
functions of the moments they are given, so time is chosen here, never slept."""

from __future__ import annotations

import datetime as dt
import random

from hypothesis import given
from hypothesis import strategies as st

from desktop_care.models.tickets import (
    CALENDAR,
    TARGETS,
    BusinessCalendar,
    TicketPriority,
    business_between,
    business_due,
    format_time_left,
    time_left,
)

UTC = dt.UTC
H = dt.timedelta(hours=1)


def at(*parts: int) -> dt.datetime:
    return dt.datetime(*parts, tzinfo=UTC)


def test_due_time_within_one_working_day() -> None:
    # Wednesday 2 December 2026, 10:00 in London (GMT, so UTC too).
    assert business_due(at(2026, 12, 2, 10), 4 * H) == at(2026, 12, 2, 14)


def test_due_time_carries_over_the_night_and_the_weekend() -> None:
    # Friday 16:00 plus 2 business hours: one hour on Friday, one on Monday from 09:00.
    assert business_due(at(2026, 12, 4, 16), 2 * H) == at(2026, 12, 7, 10)
    # Opened on a Saturday: the clock starts on Monday at 09:00.
    assert business_due(at(2026, 12, 5, 11), 1 * H) == at(2026, 12, 7, 10)
    # Opened at 20:00: the clock starts the next morning.
    assert business_due(at(2026, 12, 2, 20), 30 * dt.timedelta(minutes=1)) == at(2026, 12, 3, 9, 30)


def test_hours_are_local_time_in_summer() -> None:
    # In July London is UTC+1: 09:00 local is 08:00 UTC.
    assert business_due(at(2026, 7, 1, 7), 1 * H) == at(2026, 7, 1, 9)


def test_another_calendar() -> None:
    paris_weekends = BusinessCalendar(zone="Europe/Paris", start=8, end=12, workdays=frozenset({5, 6}))
    # Wednesday: nothing until Saturday 08:00 Paris (07:00 UTC).
    assert business_due(at(2026, 12, 2, 10), 5 * H, paris_weekends) == at(2026, 12, 6, 8)


def test_time_left_counts_business_time_and_goes_negative_when_overdue() -> None:
    due = at(2026, 12, 7, 10)  # Monday 10:00
    assert time_left(due, at(2026, 12, 4, 16)) == 2 * H  # Friday 16:00: 1 h Friday + 1 h Monday
    assert time_left(due, at(2026, 12, 6, 12)) == 1 * H  # Sunday: only Monday's hour
    assert time_left(due, due) == dt.timedelta(0)
    assert time_left(due, at(2026, 12, 7, 12)) == -2 * H
    assert time_left(due, at(2026, 12, 7, 18)) == -7 * H  # the evening does not count


def test_format_time_left() -> None:
    assert format_time_left(2 * H + dt.timedelta(minutes=15)) == "2 h 15 min left"
    assert format_time_left(3 * H) == "3 h left"
    assert format_time_left(-dt.timedelta(minutes=45)) == "45 min overdue"


def test_targets_are_stricter_for_higher_priorities() -> None:
    order = [TARGETS[p] for p in (TicketPriority.URGENT, TicketPriority.HIGH, TicketPriority.NORMAL,
                                  TicketPriority.LOW)]
    assert [t.first_response for t in order] == sorted(t.first_response for t in order)
    assert [t.resolution for t in order] == sorted(t.resolution for t in order)


moments = st.datetimes(min_value=dt.datetime(2020, 1, 1), max_value=dt.datetime(2030, 1, 1), timezones=st.just(UTC))
amounts = st.timedeltas(min_value=dt.timedelta(0), max_value=dt.timedelta(hours=200))


@given(moments, amounts)
def test_business_time_to_the_due_time_is_the_amount(start: dt.datetime, amount: dt.timedelta) -> None:
    due = business_due(start, amount)
    assert business_between(start, due) == amount
    local = due.astimezone(CALENDAR.tz)
    if amount:  # a due time always falls inside working hours
        assert local.weekday() < 5 and (9 <= local.hour < 17 or local.time() == dt.time(17))


def _day_by_day(start: dt.datetime, end: dt.datetime) -> dt.timedelta:
    """The plain count, one local day at a time (what the whole-week jump must equal)."""
    total, moment = dt.timedelta(0), start
    while moment < end:
        for opens, closes in CALENDAR._windows(moment):
            begin, finish = max(moment, opens), min(end, closes)
            if begin < finish:
                total += finish - begin
        moment = CALENDAR._next_day(moment)
    return total


def test_long_spans_count_whole_weeks_exactly_across_summer_time() -> None:
    rng = random.Random(5)
    base = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    for _ in range(300):
        start = base + dt.timedelta(minutes=rng.randint(0, 3 * 365 * 24 * 60))
        end = start + dt.timedelta(minutes=rng.randint(0, 400 * 24 * 60))
        assert business_between(start, end) == _day_by_day(start, end)
