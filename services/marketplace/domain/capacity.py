"""The coming week of a capacity listing, and the hours of the week its slots fall in.

Analytics measures how a machine spends each hour of the week in its site's zone; a
slot starting at a UTC hour counts the measured idle seconds of the local hour of the
week it starts in, which a zone's clock changes move.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

HOUR = timedelta(hours=1)
WEEK = timedelta(weeks=1)
# How far ahead the hours of a zone are kept, and how little of that may remain before
# they are extended: a measurement arrives every hour or so, so the coming week is
# always covered even should measurements stop for a few weeks.
ZONE_HOURS_AHEAD = timedelta(weeks=6)
ZONE_HOURS_LEFT = timedelta(weeks=5)


def whole_hour_from(now: datetime) -> datetime:
    """The first whole UTC hour at or after `now`."""
    floor = now.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    return floor if floor == now else floor + HOUR


def next_week(now: datetime) -> tuple[datetime, datetime]:
    """The 168 hours [start, end) from the next whole hour: the slots that count towards a
    listing's idle hours next week start in them."""
    start = whole_hour_from(now)
    return start, start + WEEK


def zone_hours(zone: str, start: datetime, end: datetime) -> list[dict[str, Any]]:
    """Each whole UTC hour starting in [start, end) with its weekday (0 = Monday) and hour
    in `zone` (an IANA name)."""
    local_zone = ZoneInfo(zone)
    first = whole_hour_from(start)
    rows = []
    for index in range(-(-(end - first) // HOUR)):
        at = first + index * HOUR
        local = at.astimezone(local_zone)
        rows.append({"zone": zone, "starts_at": at, "weekday": local.weekday(), "hour": local.hour})
    return rows
