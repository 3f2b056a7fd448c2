"""What a site calendar must be: its shape (marshmallow), then its sense (the domain's
`calendar_from`, whose errors name the field). Violations name `calendar.<field>`."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, ValidationError, fields, validate

from services.analytics.domain.business_periods import CalendarError
from services.analytics.domain.calendar import MAX_SHIFTS_PER_DAY
from services.analytics.domain.site_calendars import QUARTER_MINUTES, WEEKDAYS, calendar_from
from services.kit.errors import FieldViolation, InvalidArgument
from services.kit.validation import text as printable

MAX_DATES = 400


def _wall_time(value: str) -> bool:
    """HH:MM on a quarter hour: figures are kept per quarter hour (see site_calendars)."""
    try:
        hours, minutes = (int(part) for part in value.split(":"))
    except ValueError:
        raise ValidationError("a local time HH:MM") from None
    if not (len(value) == 5 and 0 <= hours < 24 and 0 <= minutes < 60):
        raise ValidationError("a local time HH:MM")
    if minutes % QUARTER_MINUTES:
        raise ValidationError("shifts start and end on a quarter hour (:00, :15, :30, :45)")
    return True


class ShiftSchema(Schema):
    name = printable(64)
    start = fields.String(required=True, validate=_wall_time)
    end = fields.String(required=True, validate=_wall_time)


def _shifts() -> fields.List:
    return fields.List(fields.Nested(ShiftSchema), validate=validate.Length(max=MAX_SHIFTS_PER_DAY))


class ExceptionSchema(Schema):
    date = fields.Date(required=True)
    shifts = _shifts()


# A field per weekday, so that violations name it: `calendar.week.monday.0.start`.
WeekSchema = Schema.from_dict({day: _shifts() for day in WEEKDAYS}, name="WeekSchema")


class CalendarSchema(Schema):
    zone = fields.String(required=True, validate=validate.Length(min=1, max=64))
    week = fields.Nested(WeekSchema, load_default=dict)
    holidays = fields.List(fields.Date(), load_default=list, validate=validate.Length(max=MAX_DATES))
    exceptions = fields.List(
        fields.Nested(ExceptionSchema), load_default=list, validate=validate.Length(max=MAX_DATES)
    )


class CalendarRequestSchema(Schema):
    site = printable(200)
    calendar = fields.Nested(CalendarSchema, required=True)


def stored_calendar(loaded: dict[str, Any]) -> dict[str, Any]:
    """The loaded calendar as it is stored, once its sense is checked: dates as ISO text."""
    definition = {
        "zone": loaded["zone"],
        "week": loaded["week"],
        "holidays": sorted(day.isoformat() for day in loaded["holidays"]),
        "exceptions": [
            {"date": case["date"].isoformat(), "shifts": case.get("shifts", [])}
            for case in loaded["exceptions"]
        ],
    }
    try:
        calendar_from(definition)
    except CalendarError as error:
        raise InvalidArgument([FieldViolation(f"calendar.{error.field}", error.message)]) from error
    return definition
