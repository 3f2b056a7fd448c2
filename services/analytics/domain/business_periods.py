"""A site's local time as exact UTC instants: its zone, its wall clock, and the
boundaries of its local hours, days and ISO weeks, so that figures are grouped as the
plant reads its own clocks.

A local day or week lasts what its clocks say: in Europe/Berlin the last Sunday of March
is 23 h and the last Sunday of October 25 h. A boundary list always starts at or before
the range's start and ends at or after its end, so consecutive pairs cover the range.

Local times the clocks skip or repeat resolve as `local_to_utc` says.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from zoneinfo import ZoneInfo, available_timezones

QUARTER_HOUR = timedelta(minutes=15)
# The longest range taken at once: three years, a bound on the work one request can ask for.
MAX_RANGE = timedelta(days=3 * 366)


class CalendarError(ValueError):
    """An invalid zone or range; `field` names the input at fault, for the API to report."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@cache
def _zone_names() -> frozenset[str]:
    # "localtime" is the host's own zone, not an IANA name: a site must not depend on
    # where the platform happens to run.
    return frozenset(available_timezones() - {"localtime"})


def load_zone(name: str, field: str = "zone") -> ZoneInfo:
    """The IANA zone `name`. Checked against the installed names rather than handed to
    ZoneInfo, which would also read paths and the host's "localtime"."""
    if name not in _zone_names():
        raise CalendarError(field, f"{name[:64]!r} is not an IANA time zone such as 'Europe/Berlin'")
    return ZoneInfo(name)


def local_to_utc(local: datetime, zone: ZoneInfo) -> datetime:
    """The UTC instant of the naive wall time `local` in `zone`.

    A wall time inside a spring-forward gap is the first instant after the gap: Berlin's
    02:30 on the last Sunday of March is 03:00 CEST, so a shift reaching into the gap
    ends where the clocks resume and no wall time maps past a later one. An ambiguous wall
    time on the fall-back night is its first occurrence (fold=0), zoneinfo's default.
    """
    aware = local.replace(tzinfo=zone, fold=0)
    utc = aware.astimezone(UTC)
    if utc.astimezone(zone).replace(tzinfo=None) == local:
        return utc
    # In a gap, fold=0 reads the wall time with the offset of before the transition and
    # fold=1 with the one of after, so the transition lies between the two instants.
    return _transition(aware.replace(fold=1).astimezone(UTC), utc, zone)


def _transition(before: datetime, after: datetime, zone: ZoneInfo) -> datetime:
    """The first instant in (before, after] carrying `after`'s UTC offset, to the second
    (tzdata's transitions fall on whole seconds)."""
    offset = after.astimezone(zone).utcoffset()
    low, high = int(before.timestamp()), int(after.timestamp())
    while high - low > 1:
        middle = (low + high) // 2
        if datetime.fromtimestamp(middle, zone).utcoffset() == offset:
            high = middle
        else:
            low = middle
    return datetime.fromtimestamp(high, UTC)


def to_utc(instant: datetime, field: str = "instant") -> datetime:
    """`instant` in UTC; a naive one, whose zone is anyone's guess, is refused."""
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise CalendarError(field, "must carry a time zone (UTC)")
    return instant.astimezone(UTC)


def utc_range(start: datetime, end: datetime) -> tuple[datetime, datetime]:
    """`start` and `end` in UTC, `end` not before `start` nor more than MAX_RANGE after."""
    start, end = to_utc(start, "start"), to_utc(end, "end")
    if end < start:
        raise CalendarError("end", "must not be before start")
    if end - start > MAX_RANGE:
        raise CalendarError("end", f"the range may span at most {MAX_RANGE.days} days")
    return start, end


def local_days(zone: ZoneInfo, start: datetime, end: datetime) -> list[datetime]:
    """The starts of the local days from the one holding `start` to the first at or
    after `end`, in UTC."""
    return _by_date(zone, start, end, lambda day: day, timedelta(days=1))


def local_weeks(zone: ZoneInfo, start: datetime, end: datetime) -> list[datetime]:
    """The starts of the local ISO weeks (Monday 00:00) covering the range, in UTC."""
    return _by_date(zone, start, end, lambda day: day - timedelta(days=day.weekday()), timedelta(days=7))


def local_hours(zone: ZoneInfo, start: datetime, end: datetime) -> list[datetime]:
    """The instants at which the local clock shows a whole hour, covering the range.

    Walked on a UTC quarter-hour grid, since every offset in use is a whole number of
    quarter hours (Asia/Kathmandu is +05:45): the fall-back night thus has both of its
    02:00s and the spring-forward night none.
    """
    start, end = utc_range(start, end)
    instant = start.replace(minute=start.minute - start.minute % 15, second=0, microsecond=0)
    while instant.astimezone(zone).minute:
        instant -= QUARTER_HOUR
    hours = [instant]
    while hours[-1] < end:
        instant += QUARTER_HOUR
        if instant.astimezone(zone).minute == 0:
            hours.append(instant)
    return hours


def _by_date(
    zone: ZoneInfo, start: datetime, end: datetime, first: Callable[[date], date], step: timedelta
) -> list[datetime]:
    start, end = utc_range(start, end)
    day = first(start.astimezone(zone).date())
    bounds = [local_to_utc(datetime.combine(day, time()), zone)]
    while bounds[-1] < end:
        day += step
        bounds.append(local_to_utc(datetime.combine(day, time()), zone))
    return bounds
