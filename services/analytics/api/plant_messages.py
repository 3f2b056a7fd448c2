"""Conversions between the contract's machine models and site calendars and the plain
JSON-ready definitions the use cases store (`domain/machine_models.py`,
`domain/site_calendars.py`).

A request's message becomes the definition's shape field by field, so that the use
cases' violations (`model.states.values.2.value`, `calendar.week.monday.0.end`) name the
request's own fields. What a message leaves unset is left out of the definition, for
the use cases' defaults or their required-field errors to apply.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gantry.v1 import analytics_pb2 as pb

from services.analytics.api.messages import condition_message, condition_of
from services.analytics.domain.plant_settings import PlantSetting
from services.analytics.domain.site_calendars import WEEKDAYS
from services.analytics.domain.timeline import Category
from services.kit.protos import EnumMap, scalar_of, timestamp_fields, value_message

CATEGORIES = EnumMap(pb.TimeCategory, "TIME_CATEGORY_", Category)
COUNTERS = ("produced", "scrap", "good")


# --- Machine models ---------------------------------------------------------------


def model_definition(model: pb.MachineModel) -> dict[str, Any]:
    """The definition a request's model carries, as `PlantSettings` reads it."""
    definition: dict[str, Any] = {
        "states": _states_definition(model.states),
        "ideal_cycle_seconds": model.ideal_cycle_seconds,
        "ideal_cycle_attribute": model.ideal_cycle_attribute,
    }
    for name in COUNTERS:
        if model.HasField(name):
            counter = getattr(model, name)
            wraps_at = counter.wraps_at if counter.HasField("wraps_at") else None
            definition[name] = {"channel": counter.channel, "wraps_at": wraps_at}
    if model.max_gap_seconds:
        definition["max_gap_seconds"] = model.max_gap_seconds
    return definition


def _states_definition(states: pb.MachineStates) -> dict[str, Any]:
    path = "model.states"
    definition: dict[str, Any] = _given(default=CATEGORIES.to_domain(states.default, f"{path}.default"))
    if states.channel:
        definition["channel"] = states.channel
    if states.values:
        definition["values"] = [
            _given(
                value=scalar_of(case.value),
                category=CATEGORIES.to_domain(case.category, f"{path}.values.{index}.category"),
            )
            for index, case in enumerate(states.values)
        ]
    if states.conditions:
        definition["conditions"] = [
            _given(
                category=CATEGORIES.to_domain(case.category, f"{path}.conditions.{index}.category"),
                condition=condition_of(case.condition) if case.HasField("condition") else None,
            )
            for index, case in enumerate(states.conditions)
        ]
    return definition


def _given(**values: Any) -> dict[str, Any]:
    """The fields set: an unset one is then missing, which the use case names as required."""
    return {name: value for name, value in values.items() if value is not None}


def model_fields(definition: Mapping[str, Any]) -> pb.MachineModel:
    """A stored definition in the contract's shape."""
    states = definition["states"]
    message = pb.MachineModel(
        states=pb.MachineStates(
            channel=states.get("channel", ""),
            values=[
                pb.StateValue(value=value_message(case["value"]), category=_category(case["category"]))
                for case in states.get("values", ())
            ],
            conditions=[
                pb.StateCondition(
                    category=_category(case["category"]), condition=condition_message(case["condition"])
                )
                for case in states.get("conditions", ())
            ],
            default=_category(states["default"]),
        ),
        ideal_cycle_seconds=definition.get("ideal_cycle_seconds") or 0,
        ideal_cycle_attribute=definition.get("ideal_cycle_attribute") or "",
        max_gap_seconds=definition.get("max_gap_seconds") or 0,
    )
    for name in COUNTERS:
        if counter := definition.get(name):
            getattr(message, name).CopyFrom(pb.PartCounter(**_given(**counter)))
    return message


def _category(name: str) -> int:
    return CATEGORIES.to_proto(Category(name))


def model_message(setting: PlantSetting) -> pb.MachineModel:
    message = model_fields(setting.definition)
    message.MergeFrom(
        pb.MachineModel(tenant_id=setting.tenant_id, profile_id=setting.key, **_record(setting))
    )
    return message


def _record(setting: PlantSetting) -> dict[str, Any]:
    """The fields every versioned setting carries besides its definition."""
    return {
        "version": setting.version,
        **timestamp_fields(created_at=setting.created_at, updated_at=setting.updated_at),
    }


# --- Site calendars ---------------------------------------------------------------


def calendar_definition(calendar: pb.SiteCalendar) -> dict[str, Any]:
    """The definition a request's calendar carries: only the weekdays with shifts."""
    week = {day: _shifts(getattr(calendar.week, day)) for day in WEEKDAYS}
    return {
        "zone": calendar.zone,
        "week": {day: shifts for day, shifts in week.items() if shifts},
        "holidays": list(calendar.holidays),
        "exceptions": [{"date": case.date, "shifts": _shifts(case.shifts)} for case in calendar.exceptions],
    }


def _shifts(shifts: Any) -> list[dict[str, str]]:
    return [{"name": shift.name, "start": shift.start, "end": shift.end} for shift in shifts]


def calendar_fields(definition: Mapping[str, Any]) -> pb.SiteCalendar:
    """A stored definition in the contract's shape."""
    return pb.SiteCalendar(
        zone=definition["zone"],
        week=pb.WeekShifts(**{day: _shift_messages(shifts) for day, shifts in definition["week"].items()}),
        holidays=definition["holidays"],
        exceptions=[
            pb.CalendarException(date=case["date"], shifts=_shift_messages(case["shifts"]))
            for case in definition["exceptions"]
        ],
    )


def _shift_messages(shifts: list[dict[str, str]]) -> list[pb.Shift]:
    return [pb.Shift(**shift) for shift in shifts]


def calendar_message(setting: PlantSetting) -> pb.SiteCalendar:
    message = calendar_fields(setting.definition)
    message.MergeFrom(pb.SiteCalendar(tenant_id=setting.tenant_id, site=setting.key, **_record(setting)))
    return message
