"""Shift calendars: when a site plans its machines to work, as exact UTC instants.

ISO 22400-2 takes the planned busy time (PBT) from the plant's planning, not from the
machine: this is that planning. A site writes its shifts in its local time (an IANA
zone) for each weekday. A shift whose end is not after its start ends the next local
day, so its length follows the clocks: 22:00-06:00 in Europe/Berlin lasts 9 h on the
night the clocks go back and 7 h on the night they go forward.

A holiday cancels every shift *starting* that local date (a night shift begun the
evening before still ends on it); an exception replaces one date's shifts with its own
list (an extra Saturday shift, or none at all). A shift belongs to the local date it
starts on, its business date.

Wall times the clocks skip or repeat: a time inside the spring-forward gap is the first
instant after the gap, and an ambiguous time on the fall-back night is its first
occurrence (fold=0); see `business_periods.local_to_utc`. A shift lying wholly inside a
gap thus lasts nothing and is not planned.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from types import MappingProxyType
from zoneinfo import ZoneInfo

from services.analytics.domain.business_periods import (
    CalendarError,
    load_zone,
    local_to_utc,
    to_utc,
    utc_range,
)

MAX_SHIFTS_PER_DAY = 16
MAX_NAME_LENGTH = 64
DAY = 24 * 3600
ONE_DAY = timedelta(days=1)


@dataclass(frozen=True, slots=True)
class Shift:
    """A shift in local wall time; an `end` not after `start` falls on the next day."""

    name: str
    start: time
    end: time


@dataclass(frozen=True, slots=True)
class PlannedShift:
    """One occurrence of a shift, in UTC, on the local date it starts."""

    name: str
    business_date: date
    start: datetime
    end: datetime


@dataclass(frozen=True)
class ShiftCalendar:
    zone: str
    # Weekday (0 = Monday ... 6 = Sunday) -> that day's shifts.
    week: Mapping[int, Sequence[Shift]]
    holidays: frozenset[date] = frozenset()
    # A local date -> the shifts replacing its weekday's.
    exceptions: Mapping[date, Sequence[Shift]] = field(default_factory=dict)
    tz: ZoneInfo = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # Copies, so that the caller's later changes to its dicts escape no validation.
        object.__setattr__(self, "week", MappingProxyType({d: tuple(s) for d, s in self.week.items()}))
        object.__setattr__(
            self, "exceptions", MappingProxyType({d: tuple(s) for d, s in self.exceptions.items()})
        )
        object.__setattr__(self, "holidays", frozenset(self.holidays))
        object.__setattr__(self, "tz", load_zone(self.zone))
        self._validate()

    def shifts_on(self, day: date) -> Sequence[Shift]:
        """The shifts starting on the local date `day`."""
        if day in self.holidays:
            return ()
        return self.exceptions.get(day, self.week.get(day.weekday(), ()))

    def planned(self, start: datetime, end: datetime) -> list[PlannedShift]:
        """Every shift occurrence overlapping [start, end), clipped to it, in time order."""
        start, end = utc_range(start, end)
        # The day before the range's first may hold a shift reaching past midnight.
        first = start.astimezone(self.tz).date() - ONE_DAY
        planned = []
        for shift in self._occurrences(first, end.astimezone(self.tz).date()):
            clipped = replace(shift, start=max(shift.start, start), end=min(shift.end, end))
            if clipped.start < clipped.end:
                planned.append(clipped)
        return planned

    def shift_at(self, instant: datetime) -> PlannedShift | None:
        """The whole shift occurrence holding `instant`, or None outside every shift."""
        instant = to_utc(instant)
        day = instant.astimezone(self.tz).date()
        for shift in self._occurrences(day - ONE_DAY, day):
            if shift.start <= instant < shift.end:
                return shift
        return None

    def _occurrences(self, first: date, last: date) -> Iterator[PlannedShift]:
        day = first
        while day <= last:
            for shift in sorted(self.shifts_on(day), key=lambda s: s.start):
                yield self._occurrence(day, shift)
            day += ONE_DAY

    def _occurrence(self, day: date, shift: Shift) -> PlannedShift:
        end_day = day + ONE_DAY if shift.end <= shift.start else day
        return PlannedShift(
            name=shift.name,
            business_date=day,
            start=local_to_utc(datetime.combine(day, shift.start), self.tz),
            end=local_to_utc(datetime.combine(end_day, shift.end), self.tz),
        )

    def _validate(self) -> None:
        for weekday, shifts in self.week.items():
            if weekday not in range(7):
                raise CalendarError("week", f"{weekday!r} is not a weekday from 0 (Monday) to 6 (Sunday)")
            _check_day(f"week[{weekday}]", shifts)
            _check_overlaps(f"week[{weekday}]", shifts, self.week.get((weekday + 1) % 7, ()))
        for day, shifts in self.exceptions.items():
            where = f"exceptions[{day.isoformat()}]"
            _check_day(where, shifts)
            _check_overlaps(where, self.shifts_on(day - ONE_DAY), self.shifts_on(day))
            _check_overlaps(where, self.shifts_on(day), self.shifts_on(day + ONE_DAY))


def _check_day(where: str, shifts: Sequence[Shift]) -> None:
    if len(shifts) > MAX_SHIFTS_PER_DAY:
        raise CalendarError(where, f"at most {MAX_SHIFTS_PER_DAY} shifts a day")
    for index, shift in enumerate(shifts):
        if not 0 < len(shift.name) <= MAX_NAME_LENGTH:
            raise CalendarError(f"{where}[{index}].name", f"1 to {MAX_NAME_LENGTH} characters")
        for name, value in (("start", shift.start), ("end", shift.end)):
            if value.tzinfo is not None:
                raise CalendarError(f"{where}[{index}].{name}", "a local wall time, without a zone")
        if shift.end == shift.start:
            raise CalendarError(f"{where}[{index}].end", "must differ from start")


def _check_overlaps(where: str, today: Sequence[Shift], tomorrow: Sequence[Shift]) -> None:
    """Two shifts may not overlap: not on one day, nor one reaching past midnight into
    the next day's; planned time would count twice. Wall times suffice, as mapping them
    to instants keeps their order."""
    spans = sorted([*(_span(s, 0) for s in today), *(_span(s, DAY) for s in tomorrow)])
    reach, reaching = -1, ""
    for start, end, name in spans:
        if start < reach:
            raise CalendarError(where, f"shift {name!r} overlaps shift {reaching!r}")
        if end > reach:
            reach, reaching = end, name


def _span(shift: Shift, offset: int) -> tuple[int, int, str]:
    """The shift's seconds from the midnight `offset` seconds before its start day's."""
    start = offset + _seconds(shift.start)
    end = offset + _seconds(shift.end) + (DAY if shift.end <= shift.start else 0)
    return start, end, shift.name


def _seconds(wall: time) -> int:
    return wall.hour * 3600 + wall.minute * 60 + wall.second
