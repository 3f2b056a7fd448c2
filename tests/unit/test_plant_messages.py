"""Machine models and site calendars between the contract's messages and the definitions
the use cases store: what is stored reads back, through a message, as it was stored;
values keep their exact type; unset parts stay unset for the use case to name."""

from __future__ import annotations

from typing import Any

import pytest
from gantry.v1 import analytics_pb2 as pb

from services.analytics.api.plant_messages import (
    calendar_definition,
    calendar_fields,
    model_definition,
    model_fields,
)
from services.analytics.usecases.calendar_input import stored_calendar
from services.analytics.usecases.plant_settings import CALENDAR_SCHEMA, MODEL_SCHEMA
from services.kit.errors import InvalidArgument
from services.kit.validation import load

CONDITION = {
    "combinator": "any",
    "predicates": [
        {
            "channel": "spindle_temp",
            "operator": "inside",
            "value": {"number": 40},
            "upper": {"attribute": "hot"},
        },
        {"channel": "door_open", "operator": "eq", "value": {"flag": False}},
    ],
    "groups": [{"predicates": [{"channel": "mode", "operator": "ne", "value": {"text": "STOP"}}]}],
}
MODELS: dict[str, dict[str, Any]] = {
    "by enum values, with counters": {
        "states": {
            "channel": "mode",
            "values": [
                {"value": "RUN", "category": "producing"},
                {"value": "BREAK", "category": "planned_downtime"},
            ],
            "default": "idle",
        },
        "produced": {"channel": "parts", "wraps_at": 65536},
        "scrap": {"channel": "scrap"},
        "ideal_cycle_seconds": 42.5,
        "ideal_cycle_attribute": "cycle_s",
        "max_gap_seconds": 600,
    },
    "by int values": {
        "states": {
            "channel": "state",
            "values": [{"value": 0, "category": "idle"}, {"value": 1, "category": "producing"}],
            "default": "fault",
        }
    },
    "by bool values": {
        "states": {
            "channel": "running",
            "values": [{"value": True, "category": "producing"}],
            "default": "idle",
        }
    },
    "by conditions": {
        "states": {"conditions": [{"category": "setup", "condition": CONDITION}], "default": "idle"},
        "produced": {"channel": "parts"},
        "good": {"channel": "good", "wraps_at": 2**63 - 1},
    },
}


def stored_model(definition: dict[str, Any]) -> dict[str, Any]:
    """The model as the use case stores it: loaded, its defaults filled in."""
    return load(MODEL_SCHEMA, {"model": definition})["model"]


@pytest.mark.parametrize("case", MODELS)
def test_a_stored_model_reads_back_through_its_message(case: str) -> None:
    stored = stored_model(MODELS[case])
    assert stored_model(model_definition(model_fields(stored))) == stored


def test_state_values_keep_their_exact_type() -> None:
    message = model_fields(stored_model(MODELS["by bool values"]))
    assert message.states.values[0].value.WhichOneof("kind") == "bool_value"
    message = model_fields(stored_model(MODELS["by int values"]))
    assert message.states.values[1].value.WhichOneof("kind") == "int_value"
    assert model_definition(message)["states"]["values"][1]["value"] == 1


def test_unset_parts_of_a_model_stay_unset() -> None:
    definition = model_definition(pb.MachineModel(states=pb.MachineStates(values=[pb.StateValue()])))
    assert definition["states"] == {"values": [{}]}
    assert "produced" not in definition and "max_gap_seconds" not in definition
    # A counter without wraps_at never wraps; one with it wraps there, however large.
    counter = pb.MachineModel(
        produced=pb.PartCounter(channel="parts"), good=pb.PartCounter(wraps_at=2**63 - 1)
    )
    definition = model_definition(counter)
    assert (definition["produced"]["wraps_at"], definition["good"]["wraps_at"]) == (None, 2**63 - 1)


def test_a_category_the_contract_does_not_define_is_named() -> None:
    states = pb.MachineStates(channel="mode", default=pb.TIME_CATEGORY_IDLE)
    states.values.add(category=99)
    with pytest.raises(InvalidArgument) as refused:
        model_definition(pb.MachineModel(states=states))
    assert [v.field for v in refused.value.violations] == ["model.states.values.0.category"]


CALENDAR = {
    "zone": "Europe/Berlin",
    "week": {
        "monday": [{"name": "early", "start": "06:00", "end": "14:00"}],
        "saturday": [{"name": "night", "start": "22:00", "end": "06:00"}],
    },
    "holidays": ["2026-12-25", "2026-12-26"],
    "exceptions": [
        {"date": "2026-12-24", "shifts": [{"name": "short", "start": "06:00", "end": "10:00"}]},
        {"date": "2026-12-31", "shifts": []},
    ],
}


def test_a_stored_calendar_reads_back_through_its_message() -> None:
    stored = stored_calendar(load(CALENDAR_SCHEMA, {"site": "berlin", "calendar": CALENDAR})["calendar"])
    message = calendar_fields(stored)
    assert [shift.name for shift in message.week.saturday] == ["night"] and not message.week.sunday
    assert calendar_definition(message) == stored == CALENDAR
