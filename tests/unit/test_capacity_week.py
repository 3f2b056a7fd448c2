"""The coming week of a capacity listing, and the local hour of the week of each UTC hour."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from services.marketplace.domain.capacity import next_week, zone_hours

HOUR = timedelta(hours=1)


def test_next_week_starts_at_the_next_whole_hour_and_lasts_168_hours() -> None:
    on_the_hour = datetime(2031, 3, 3, 10, tzinfo=UTC)
    assert next_week(on_the_hour) == (on_the_hour, on_the_hour + timedelta(weeks=1))
    assert next_week(on_the_hour + timedelta(seconds=1))[0] == on_the_hour + HOUR


def test_a_zone_changing_its_clocks_moves_the_local_hour_of_the_utc_hours() -> None:
    # Berlin goes from UTC+1 to UTC+2 at 01:00 UTC on Sunday 30 March 2031.
    start = datetime(2031, 3, 30, tzinfo=UTC)
    hours = [(row["weekday"], row["hour"]) for row in zone_hours("Europe/Berlin", start, start + 3 * HOUR)]
    assert hours == [(6, 1), (6, 3), (6, 4)]
    # A zone's half-hour offset leaves a UTC hour in the local hour it starts in.
    [kolkata] = zone_hours("Asia/Kolkata", start, start + HOUR)
    assert (kolkata["weekday"], kolkata["hour"]) == (6, 5)
