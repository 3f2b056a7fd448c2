"""The chart's buckets: telemetry's rollups answer them, and there are at most about a
thousand of them, whatever the range."""

from __future__ import annotations

import pytest
from starlette.exceptions import HTTPException

from services.console.series import MAX_POINTS, chart_bucket, parse_moment
from services.telemetry.rollups import DAY, HOUR, MINUTE, resolution_for

NOW = 1_796_590_589.25
HOURS = 3600


@pytest.mark.parametrize(
    ("span", "bucket", "resolution"),
    [
        (60, 60, MINUTE),
        (HOURS, 60, MINUTE),
        (24 * HOURS, 300, MINUTE),
        (7 * 24 * HOURS, 900, MINUTE),
        (31 * 24 * HOURS, HOUR, HOUR),
        (365 * 24 * HOURS, DAY, DAY),
        (10 * 366 * 24 * HOURS, 7 * DAY, DAY),
    ],
)
def test_every_range_is_answered_by_rollups_in_at_most_about_a_thousand_points(
    span: int, bucket: int, resolution: int
) -> None:
    chosen, start, end = chart_bucket(NOW - span, NOW)
    assert chosen == bucket
    assert resolution_for(start, end, chosen) == resolution
    assert start <= NOW - span and end >= NOW
    assert (end - start) / chosen <= MAX_POINTS + 2


def test_moments_are_epoch_seconds_or_rfc_3339_with_an_offset() -> None:
    assert parse_moment("1796590589", "from") == 1796590589
    assert parse_moment("2026-12-06T20:56:20+08:00", "from") == 1796590580 - 8 * HOURS
    with pytest.raises(HTTPException, match="needs its UTC offset"):
        parse_moment("2026-12-06T20:56:20", "from")
    with pytest.raises(HTTPException, match="RFC 3339"):
        parse_moment("yesterday", "to")
