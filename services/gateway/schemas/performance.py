"""Machine models, site calendars and performance figures. Field names are those of
protos/gantry/v1/analytics.proto, which keeps the shapes analytics stores, so that a
partner reads one shape and analytics's field errors name the body's fields; analytics
checks what these schemas leave open (channels against the profile, times, zones, dates,
overlapping shifts)."""

from __future__ import annotations

from typing import Any

from gantry.v1 import analytics_pb2 as pb
from google.protobuf.descriptor import FieldDescriptor
from marshmallow import Schema, ValidationError, fields, validate

from services.gateway.schemas import common
from services.gateway.schemas.alarm_rules import BoundedCondition, Condition
from services.gateway.schemas.common import SCALAR, ShortList, names
from services.kit.validation import text as printable

CATEGORIES = names(pb.TimeCategory)
GRANULARITIES = names(pb.Granularity)
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")

# The contract's bounds (protos/gantry/v1/analytics.proto).
MAX_STATE_VALUES = 64
MAX_STATE_CONDITIONS = 16
MAX_GAP_SECONDS = 24 * 3600
MAX_SHIFTS_PER_DAY = 16
MAX_DATES = 400
MAX_SITE_LENGTH = 200


def _scalar(value: Any) -> bool:
    # Within int64, as the contract's Value holds it; a list or object is no channel's value.
    if isinstance(value, int) and not isinstance(value, bool) and not -(2**63) <= value < 2**63:
        raise ValidationError("a whole number within 64 bits")
    if not isinstance(value, int | float | str):
        raise ValidationError("a number, true or false, or text")
    return True


def _category(**kwargs: Any) -> fields.String:
    return fields.String(validate=validate.OneOf(CATEGORIES), **kwargs)


def _channel(**kwargs: Any) -> fields.String:
    return fields.String(validate=validate.Length(max=64), **kwargs)


class StateValue(Schema):
    value = fields.Raw(
        required=True,
        validate=_scalar,
        metadata={
            **SCALAR,
            "description": "Of the channel's type: enum (an allowed value), string, int, bool",
        },
    )
    category = _category(required=True)


class StateCondition(BoundedCondition):
    category = _category(required=True)
    condition = fields.Nested(Condition, required=True, metadata={"description": "As an alarm rule's"})


class MachineStates(Schema):
    """A state channel's values mapped to categories, or conditions checked in order, the
    first met winning; never both."""

    channel = _channel(
        metadata={"description": "An enum, string, int or bool channel; empty with conditions"}
    )
    values = ShortList(fields.Nested(StateValue), validate=validate.Length(max=MAX_STATE_VALUES))
    conditions = ShortList(fields.Nested(StateCondition), validate=validate.Length(max=MAX_STATE_CONDITIONS))
    default = _category(
        required=True, metadata={"description": "The category of any other value, or of no condition met"}
    )


class PartCounter(Schema):
    channel = _channel(
        required=True, metadata={"description": "A cumulative count on an int or float channel"}
    )
    wraps_at = common.count(
        allow_none=True,
        metadata={"description": "Where the counter starts again from 0, e.g. 65536; null if it never wraps"},
    )


def _counter(description: str) -> fields.Nested:
    return fields.Nested(PartCounter, allow_none=True, metadata={"description": description})


class MachineModelDefinition(Schema):
    """How the machines of a profile report what they do, for ISO 22400-2 figures."""

    states = fields.Nested(MachineStates, required=True)
    produced = _counter("Parts made; null when not counted")
    scrap = _counter("Scrap parts; or good parts, not both, each with produced")
    good = _counter("Good parts")
    # Bounded by analytics, which names the field: apispec would document a Float's Range
    # as 0.0 to 604800.0, and the document keeps whole bounds whole (test_openapi).
    ideal_cycle_seconds = fields.Float(
        allow_nan=False,
        metadata={"description": "ISO's planned runtime per unit (PRU): 0 (unknown) to 604,800"},
    )
    ideal_cycle_attribute = printable(
        128,
        required=False,
        metadata={"description": "A device attribute holding its own ideal cycle time, used where positive"},
    )
    max_gap_seconds = common.count(
        1,
        MAX_GAP_SECONDS,
        metadata={"description": "A machine silent longer is unreported from its last reading on. 300"},
    )


class MachineModel(MachineModelDefinition):
    tenant_id = fields.UUID(required=True)
    profile_id = fields.UUID(required=True, metadata={"description": "The model's key: one per profile"})
    version = fields.Integer(required=True, metadata={"description": "The ETag; If-Match sends it back"})
    created_at = fields.DateTime(required=True)
    updated_at = fields.DateTime(required=True)


class MachineModelList(Schema):
    items = fields.List(fields.Nested(MachineModel), required=True)


class Shift(Schema):
    """A shift of a local day, on quarter hours; one ending before its start ends
    the next day (22:00 to 06:00)."""

    name = printable(64, metadata={"example": "early"})
    start = fields.String(required=True, validate=validate.Length(max=5), metadata={"example": "06:00"})
    end = fields.String(required=True, validate=validate.Length(max=5), metadata={"example": "14:00"})


def _shifts(**kwargs: Any) -> ShortList:
    return ShortList(fields.Nested(Shift), validate=validate.Length(max=MAX_SHIFTS_PER_DAY), **kwargs)


class WeekShifts(Schema.from_dict({day: _shifts() for day in WEEKDAYS})):  # type: ignore[misc]
    """Each weekday's shifts, in the site's zone."""


def _dates(description: str) -> ShortList:
    return ShortList(
        fields.String(validate=validate.Length(max=10)),
        validate=validate.Length(max=MAX_DATES),
        metadata={"description": description},
    )


class CalendarException(Schema):
    date = fields.String(required=True, validate=validate.Length(max=10), metadata={"example": "2026-12-24"})
    shifts = _shifts(metadata={"description": "The day's shifts instead of its weekday's; none to plan none"})


class SiteCalendarDefinition(Schema):
    """When a site plans its machines to work, in its zone's wall time."""

    zone = fields.String(
        required=True, validate=validate.Length(min=1, max=64), metadata={"example": "Europe/Berlin"}
    )
    week = fields.Nested(
        WeekShifts, metadata={"description": "Each weekday's shifts; a day without is unplanned"}
    )
    holidays = _dates("Days without any shift, YYYY-MM-DD")
    exceptions = ShortList(fields.Nested(CalendarException), validate=validate.Length(max=MAX_DATES))


class SiteCalendar(SiteCalendarDefinition):
    tenant_id = fields.UUID(required=True)
    site = fields.String(
        required=True, metadata={"description": "The calendar's key, as devices name their site"}
    )
    version = fields.Integer(required=True, metadata={"description": "The ETag; If-Match sends it back"})
    created_at = fields.DateTime(required=True)
    updated_at = fields.DateTime(required=True)


class SiteCalendarList(Schema):
    items = fields.List(fields.Nested(SiteCalendar), required=True)


class PerformanceQuery(common.Period):
    granularity = fields.String(
        required=True,
        validate=validate.OneOf(GRANULARITIES),
        metadata={"description": "Local hours, the calendar's shifts, local days or weeks (from Monday)"},
    )


class FleetPerformanceQuery(PerformanceQuery):
    zone = fields.String(
        load_default=None,
        validate=validate.Length(max=64),
        metadata={"description": "The IANA zone of the periods; UTC when absent"},
    )


def _input(field: FieldDescriptor) -> fields.Field:
    return (
        fields.Integer(required=True)
        if field.type == FieldDescriptor.TYPE_INT64
        else fields.Float(required=True)
    )


class PerformanceInputs(  # type: ignore[misc]
    Schema.from_dict({field.name: _input(field) for field in pb.PerformanceInputs.DESCRIPTOR.fields})
):
    """A period's ISO 22400-2 inputs, times in seconds and quantities in items: pbt, apt,
    asut, adet, adot, pdot; unreported (planned busy time the machines did not report);
    unplanned_producing and idle_outside_plan; operating (all producing time); pq, sq, gq,
    unplanned_pq; ideal_production (sum of PRU x PQ); failures, restorations and
    restoration (their summed seconds); aubt. They add up across machines and periods."""


class PerformanceFigures(Schema):
    """ISO 22400-2 indicators; null where undefined (a denominator of 0)."""

    availability = fields.Float(allow_none=True, metadata={"description": "apt / pbt"})
    effectiveness = fields.Float(allow_none=True, metadata={"description": "ideal_production / apt"})
    quality_ratio = fields.Float(allow_none=True, metadata={"description": "gq / pq"})
    oee = fields.Float(allow_none=True, metadata={"description": "availability x effectiveness x quality"})
    utilisation_efficiency = fields.Float(allow_none=True, metadata={"description": "apt / aubt"})
    technical_efficiency = fields.Float(allow_none=True, metadata={"description": "apt / (apt + adet)"})
    mtbf_seconds = fields.Float(allow_none=True, metadata={"description": "operating / failures"})
    mttr_seconds = fields.Float(allow_none=True, metadata={"description": "restoration / restorations"})


class PerformancePeriod(Schema):
    start = fields.DateTime(required=True)
    end = fields.DateTime(required=True)
    shift = fields.String(required=True, metadata={"description": "The shift's name; empty but by shift"})
    inputs = fields.Nested(PerformanceInputs, required=True)
    figures = fields.Nested(PerformanceFigures, required=True)


class PerformanceReport(Schema):
    zone = fields.String(required=True, metadata={"description": "The zone the periods follow"})
    periods = fields.List(fields.Nested(PerformancePeriod), required=True)


class CapacityHour(Schema):
    weekday = fields.Integer(required=True, metadata={"description": "0 = Monday, in the site's zone"})
    hour = fields.Integer(required=True)
    producing_seconds = fields.Float(required=True)
    idle_seconds = fields.Float(
        required=True, metadata={"description": "Ready but not producing, in shifts or out: capacity to sell"}
    )
    down_seconds = fields.Float(required=True)


class MeasuredCapacity(Schema):
    device_id = fields.String(required=True)
    zone = fields.String(required=True)
    start = fields.DateTime(required=True, metadata={"description": "The measurement period's start"})
    end = fields.DateTime(required=True)
    hours = fields.List(
        fields.Nested(CapacityHour),
        required=True,
        metadata={"description": "168 hours, Monday 00:00 first: averages over the weeks measured"},
    )
    utilisation = fields.Float(required=True)
    idle_hours_per_week = fields.Float(required=True)
    inputs = fields.Nested(PerformanceInputs, required=True)
    figures = fields.Nested(PerformanceFigures, required=True)
