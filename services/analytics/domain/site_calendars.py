"""A site's shift calendar as plain JSON-ready data: what is stored, what the gateway's
JSON carries, and what the gRPC adapter converts its messages to.

`{"zone": "Europe/Berlin",
  "week": {"monday": [{"name": "early", "start": "06:00", "end": "14:00"}], ...},
  "holidays": ["2026-12-25"],
  "exceptions": [{"date": "2026-12-24", "shifts": [...]}]}`

Shifts start and end on quarter hours: figures are kept per quarter hour, so that every
shift, and every local hour and day of any zone in use, is a whole number of them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import date, time
from typing import Any

from services.analytics.domain.business_periods import CalendarError
from services.analytics.domain.calendar import Shift, ShiftCalendar

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
QUARTER_MINUTES = 15
_WEEK_FIELD = re.compile(r"^week\[(\d)\]")


def calendar_from(data: Mapping[str, Any]) -> ShiftCalendar:
    """The calendar `data` defines; CalendarError naming the field in `data`'s terms
    (`week.monday.0.end`) when it makes no sense."""
    try:
        return ShiftCalendar(
            zone=data["zone"],
            week={WEEKDAYS.index(day): _shifts(shifts) for day, shifts in data.get("week", {}).items()},
            holidays=frozenset(date.fromisoformat(day) for day in data.get("holidays", ())),
            exceptions={
                date.fromisoformat(case["date"]): _shifts(case["shifts"])
                for case in data.get("exceptions", ())
            },
        )
    except CalendarError as error:
        raise CalendarError(_json_field(error.field), error.message) from error


def _shifts(data: Sequence[Mapping[str, Any]]) -> list[Shift]:
    return [
        Shift(shift["name"], time.fromisoformat(shift["start"]), time.fromisoformat(shift["end"]))
        for shift in data
    ]


def _json_field(field: str) -> str:
    """`week[0][1].end` as the JSON names it: `week.monday.1.end`."""
    field = _WEEK_FIELD.sub(lambda match: f"week.{WEEKDAYS[int(match.group(1))]}", field)
    return field.replace("][", ".").replace("[", ".").replace("]", "")
