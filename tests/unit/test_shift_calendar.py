"""Shift calendars and local periods, against instants worked out by hand.

Asia/Shanghai is UTC+8 all year. Europe/Berlin is UTC+1 (CET), and UTC+2 (CEST) from
01:00 UTC on the last Sunday of March (2026-03-29) to 01:00 UTC on the last Sunday of
October (2026-10-25).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest

from services.analytics.domain.business_periods import (
    CalendarError,
    load_zone,
    local_days,
    local_hours,
    local_to_utc,
    local_weeks,
)
from services.analytics.domain.calendar import PlannedShift, Shift, ShiftCalendar

MONDAY_TO_FRIDAY = range(5)
NIGHT = Shift("night", time(20), time(4))
BERLIN_NIGHT = Shift("night", time(22), time(6))
BERLIN = load_zone("Europe/Berlin")


def utc(month: int, day: int, hour: int = 0, minute: int = 0, year: int = 2026) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def shanghai(**changes: object) -> ShiftCalendar:
    """20:00-04:00 Monday to Friday; the week of Monday 2026-12-07 is the one tested."""
    return ShiftCalendar("Asia/Shanghai", {day: [NIGHT] for day in MONDAY_TO_FRIDAY}, **changes)  # type: ignore[arg-type]


def spans(planned: list[PlannedShift]) -> list[tuple[str, date, datetime, datetime]]:
    return [(p.name, p.business_date, p.start, p.end) for p in planned]


def test_a_night_shift_in_shanghai_runs_from_12_to_20_utc_on_its_business_date() -> None:
    # Monday 20:00 CST is Monday 12:00 UTC; Tuesday 04:00 CST is Monday 20:00 UTC.
    planned = shanghai().planned(utc(12, 6, 16), utc(12, 13, 16))  # local Monday to Monday 00:00

    assert spans(planned) == [
        ("night", date(2026, 12, day), utc(12, day, 12), utc(12, day, 20)) for day in range(7, 12)
    ]


def test_a_range_cutting_a_shift_keeps_the_part_inside_it() -> None:
    # Monday 16:00 UTC is Tuesday 00:00 CST: the Monday night shift's second half.
    planned = shanghai().planned(utc(12, 7, 16), utc(12, 8, 14))

    assert spans(planned) == [
        ("night", date(2026, 12, 7), utc(12, 7, 16), utc(12, 7, 20)),
        ("night", date(2026, 12, 8), utc(12, 8, 12), utc(12, 8, 14)),
    ]


def test_an_empty_range_plans_nothing() -> None:
    assert shanghai().planned(utc(12, 7, 14), utc(12, 7, 14)) == []


def test_a_holiday_cancels_the_shifts_starting_on_it_not_the_night_ending_on_it() -> None:
    # Wednesday 2026-12-09: Tuesday's night shift still runs into it.
    planned = shanghai(holidays=frozenset({date(2026, 12, 9)})).planned(utc(12, 8), utc(12, 11))

    assert [p.business_date for p in planned] == [date(2026, 12, 8), date(2026, 12, 10)]


def test_an_exception_replaces_a_dates_shifts() -> None:
    # An extra Saturday morning, and no shift on Monday.
    saturday = [Shift("extra", time(8), time(12))]
    calendar = shanghai(exceptions={date(2026, 12, 12): saturday, date(2026, 12, 7): []})

    planned = calendar.planned(utc(12, 6, 16), utc(12, 13, 16))

    assert [p.business_date for p in planned] == [date(2026, 12, day) for day in (8, 9, 10, 11, 12)]
    assert spans(planned)[-1] == ("extra", date(2026, 12, 12), utc(12, 12, 0), utc(12, 12, 4))


def test_the_berlin_night_shift_lasts_9_hours_when_the_clocks_go_back() -> None:
    # Saturday 22:00 CEST is 20:00 UTC; Sunday 06:00 CET is 05:00 UTC.
    calendar = ShiftCalendar("Europe/Berlin", {5: [BERLIN_NIGHT]})

    (planned,) = calendar.planned(utc(10, 24), utc(10, 26))

    assert (planned.start, planned.end) == (utc(10, 24, 20), utc(10, 25, 5))
    assert planned.end - planned.start == timedelta(hours=9)


def test_the_berlin_night_shift_lasts_7_hours_when_the_clocks_go_forward() -> None:
    # Saturday 22:00 CET is 21:00 UTC; Sunday 06:00 CEST is 04:00 UTC.
    calendar = ShiftCalendar("Europe/Berlin", {5: [BERLIN_NIGHT]})

    (planned,) = calendar.planned(utc(3, 28), utc(3, 30))

    assert (planned.start, planned.end) == (utc(3, 28, 21), utc(3, 29, 4))
    assert planned.end - planned.start == timedelta(hours=7)


def test_a_wall_time_in_the_gap_is_the_first_instant_after_it() -> None:
    # 02:30 does not exist on 2026-03-29; the clocks jump from 02:00 CET to 03:00 CEST.
    assert local_to_utc(datetime(2026, 3, 29, 2, 30), BERLIN) == utc(3, 29, 1)


def test_an_ambiguous_wall_time_is_its_first_occurrence() -> None:
    # 02:30 happens twice on 2026-10-25: first in CEST (00:30 UTC), then in CET.
    assert local_to_utc(datetime(2026, 10, 25, 2, 30), BERLIN) == utc(10, 25, 0, 30)


def test_a_shift_wholly_inside_the_gap_is_not_planned() -> None:
    calendar = ShiftCalendar("Europe/Berlin", {6: [Shift("ghost", time(2, 15), time(2, 45))]})

    assert calendar.planned(utc(3, 28), utc(3, 30)) == []


def test_shift_at_finds_the_whole_occurrence_from_the_day_before() -> None:
    # Tuesday 02:00 CST is Monday 18:00 UTC, inside Monday's night shift.
    calendar = shanghai()

    assert calendar.shift_at(utc(12, 7, 18)) == PlannedShift(
        "night", date(2026, 12, 7), utc(12, 7, 12), utc(12, 7, 20)
    )
    assert calendar.shift_at(utc(12, 7, 20)) is None
    assert calendar.shift_at(utc(12, 7, 11, 59)) is None


def test_local_days_in_berlin_last_23_and_25_hours_on_the_dst_sundays() -> None:
    spring = local_days(BERLIN, utc(3, 29, 12), utc(3, 29, 13))
    autumn = local_days(BERLIN, utc(10, 25, 12), utc(10, 25, 13))

    assert spring == [utc(3, 28, 23), utc(3, 29, 22)]
    assert autumn == [utc(10, 24, 22), utc(10, 25, 23)]


def test_local_days_cover_the_range_and_stop_at_its_end() -> None:
    assert local_days(BERLIN, utc(12, 1, 23), utc(12, 3, 23)) == [
        utc(12, 1, 23),
        utc(12, 2, 23),
        utc(12, 3, 23),
    ]


def test_the_local_week_of_the_fall_back_sunday_lasts_169_hours() -> None:
    # Monday 2026-10-19 00:00 CEST to Monday 2026-10-26 00:00 CET.
    weeks = local_weeks(BERLIN, utc(10, 21), utc(10, 22))

    assert weeks == [utc(10, 18, 22), utc(10, 25, 23)]
    assert weeks[1] - weeks[0] == timedelta(hours=169)


def test_local_hours_repeat_the_fall_back_hour() -> None:
    # Local 00:00 to 04:00 on 2026-10-25 holds five hours: 02:00 comes twice.
    hours = local_hours(BERLIN, utc(10, 24, 22), utc(10, 25, 3))

    assert hours == [
        utc(10, 24, 22),
        utc(10, 24, 23),
        utc(10, 25, 0),
        utc(10, 25, 1),
        utc(10, 25, 2),
        utc(10, 25, 3),
    ]


def test_local_hours_in_kathmandu_start_at_a_quarter_past_utc() -> None:
    # UTC+05:45: 06:00 local is 00:15 UTC.
    hours = local_hours(load_zone("Asia/Kathmandu"), utc(12, 7, 0, 20), utc(12, 7, 1, 20))

    assert hours == [utc(12, 7, 0, 15), utc(12, 7, 1, 15), utc(12, 7, 2, 15)]


@pytest.mark.parametrize(
    "zone", ["Mars/Olympus", "", "../../etc/passwd", "/etc/localtime", "localtime", "europe/berlin"]
)
def test_an_unknown_zone_is_refused(zone: str) -> None:
    with pytest.raises(CalendarError, match="not an IANA time zone") as raised:
        ShiftCalendar(zone, {})

    assert raised.value.field == "zone"


@pytest.mark.parametrize(
    ("week", "exceptions", "field", "message"),
    [
        (
            {0: [Shift("a", time(6), time(14)), Shift("b", time(13), time(22))]},
            {},
            "week[0]",
            "'b' overlaps shift 'a'",
        ),
        # Monday's night shift reaches Tuesday 06:00, past Tuesday's 05:00 start.
        (
            {0: [BERLIN_NIGHT], 1: [Shift("early", time(5), time(13))]},
            {},
            "week[0]",
            "'early' overlaps shift 'night'",
        ),
        # Sunday's night shift reaches into Monday's.
        ({6: [BERLIN_NIGHT], 0: [Shift("early", time(5), time(13))]}, {}, "week[6]", "overlaps"),
        ({0: [Shift(f"s{i}", time(i), time(i, 30)) for i in range(17)]}, {}, "week[0]", "at most 16"),
        ({0: [Shift("a", time(6), time(6))]}, {}, "week[0][0].end", "must differ"),
        ({0: [Shift("", time(6), time(7))]}, {}, "week[0][0].name", "1 to 64"),
        ({0: [Shift("a", time(6, tzinfo=UTC), time(7))]}, {}, "week[0][0].start", "without a zone"),
        ({7: []}, {}, "week", "not a weekday"),
        # Monday 2026-12-07's night shift reaches into the exception's 02:00 start.
        (
            {0: [BERLIN_NIGHT]},
            {date(2026, 12, 8): [Shift("x", time(2), time(3))]},
            "exceptions[2026-12-08]",
            "overlaps",
        ),
    ],
)
def test_a_calendar_with_invalid_shifts_names_the_field(
    week: dict[int, list[Shift]], exceptions: dict[date, list[Shift]], field: str, message: str
) -> None:
    with pytest.raises(CalendarError, match=message) as raised:
        ShiftCalendar("Europe/Berlin", week, exceptions=exceptions)

    assert raised.value.field == field


def test_shifts_ending_where_the_next_begins_do_not_overlap() -> None:
    calendar = ShiftCalendar(
        "Europe/Berlin", {0: [Shift("a", time(6), time(14)), Shift("b", time(14), time(22))]}
    )

    assert [p.name for p in calendar.planned(utc(12, 7), utc(12, 8))] == ["a", "b"]


@pytest.mark.parametrize(
    ("start", "end", "field"),
    [
        (datetime(2026, 12, 7), utc(12, 8), "start"),
        (utc(12, 7), datetime(2026, 12, 8), "end"),
        (utc(12, 8), utc(12, 7), "end"),
        (utc(1, 1), utc(1, 1, year=2030), "end"),
    ],
)
def test_an_invalid_range_names_the_field(start: datetime, end: datetime, field: str) -> None:
    with pytest.raises(CalendarError) as raised:
        shanghai().planned(start, end)

    assert raised.value.field == field


def test_changing_the_callers_dicts_later_escapes_no_validation() -> None:
    week = {0: [Shift("a", time(6), time(14))]}
    calendar = ShiftCalendar("Europe/Berlin", week)

    week[0].append(Shift("b", time(8), time(9)))

    assert [p.name for p in calendar.planned(utc(12, 7), utc(12, 8))] == ["a"]


def test_local_periods_refuse_a_range_of_more_than_three_years() -> None:
    with pytest.raises(CalendarError, match="at most 1098 days") as raised:
        local_hours(BERLIN, utc(1, 1), utc(1, 1, year=2036))

    assert raised.value.field == "end"
