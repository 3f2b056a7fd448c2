"""Machine models, site calendars and performance figures through analytics's gRPC API,
on SQLite and PostgreSQL: put, read, listed, replaced and deleted by version; definitions
that make no sense refused naming the request's fields; another tenant's models,
calendars and devices out of reach; a shift's figures as the evaluator tracked them."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import grpc
import pytest
from gantry.v1 import analytics_pb2 as pb

from services.analytics.api.plant_messages import calendar_fields, model_fields
from services.analytics.usecases.evaluation import Evaluation
from services.kit.bus import ConfirmingPublisher
from services.kit.protos import timestamp
from services.kit.registry import ProfileChannel
from services.kit.store import Store
from tests.integration.test_machine_performance import BERLIN_DAYS, MODEL, MONDAY, early_shift
from tests.support.access import ManualClock, code_of, violations
from tests.support.analytics import (
    ProfileRegistry,
    Stub,
    analytics_server,
    analytics_store,
    batch,
    teach_device,
)

TENANT = str(uuid.uuid4())
STRANGER = str(uuid.uuid4())
CHANNELS = {
    "mode": ProfileChannel("enum", ("RUN", "SETUP", "IDLE", "BREAK", "FAULT")),
    "parts": ProfileChannel("int"),
    "scrap": ProfileChannel("int"),
    "good": ProfileChannel("int"),
    "spindle_temp": ProfileChannel("float"),
    "program": ProfileChannel("string"),
}
BY_CONDITIONS = {
    "states": {
        "conditions": [
            {
                "category": "producing",
                "condition": {
                    "combinator": "all",
                    "predicates": [{"channel": "spindle_temp", "operator": "gt", "value": {"number": 40}}],
                },
            }
        ],
        "default": "idle",
    },
    "produced": {"channel": "parts"},
    "good": {"channel": "good", "wraps_at": 1000},
}


@dataclass
class Plant:
    stub: Stub
    store: Store
    profile: str
    evaluation: Evaluation

    def put_model(
        self, definition: dict[str, Any], version: int = 0, tenant: str = TENANT, profile: str = ""
    ) -> pb.MachineModel:
        model = model_fields(definition)
        model.profile_id = profile or self.profile
        return self.stub.PutMachineModel(
            pb.PutMachineModelRequest(tenant_id=tenant, model=model, expected_version=version)
        )

    def put_calendar(
        self, site: str, definition: dict[str, Any], version: int = 0, tenant: str = TENANT
    ) -> pb.SiteCalendar:
        calendar = calendar_fields({"week": {}, "holidays": [], "exceptions": [], **definition})
        calendar.site = site
        return self.stub.PutSiteCalendar(
            pb.PutSiteCalendarRequest(tenant_id=tenant, calendar=calendar, expected_version=version)
        )


@pytest.fixture
def plant(database_url: str, publisher: ConfirmingPublisher, clock: ManualClock) -> Iterator[Plant]:
    registry = ProfileRegistry()
    profile = registry.profile(TENANT, CHANNELS)
    with analytics_store(database_url, publisher) as store, analytics_server(store, registry, clock) as stub:
        yield Plant(stub, store, profile, Evaluation(store.unit_of_work, clock))


def test_a_model_is_put_read_listed_replaced_and_deleted_by_version(plant: Plant) -> None:
    created = plant.put_model(MODEL)
    assert (created.version, created.profile_id, created.tenant_id) == (1, plant.profile, TENANT)
    states = created.states
    assert (states.channel, states.default) == ("mode", pb.TIME_CATEGORY_IDLE)
    assert (states.values[2].value.string_value, states.values[2].category) == (
        "BREAK",
        pb.TIME_CATEGORY_PLANNED_DOWNTIME,
    )
    assert (created.produced.wraps_at, created.scrap.HasField("wraps_at"), created.HasField("good")) == (
        65536,
        False,
        False,
    )
    key = {"tenant_id": TENANT, "profile_id": plant.profile}
    assert plant.stub.GetMachineModel(pb.GetMachineModelRequest(**key)) == created
    upper = pb.GetMachineModelRequest(tenant_id=TENANT, profile_id=plant.profile.upper())
    assert plant.stub.GetMachineModel(upper) == created
    malformed = pb.GetMachineModelRequest(tenant_id=TENANT, profile_id="mill-7")
    assert set(violations(lambda: plant.stub.GetMachineModel(malformed))) == {"profile_id"}
    listed = plant.stub.ListMachineModels(pb.ListMachineModelsRequest(tenant_id=TENANT))
    assert list(listed.models) == [created]

    assert code_of(lambda: plant.put_model(MODEL)) == grpc.StatusCode.ABORTED
    replaced = plant.put_model(BY_CONDITIONS, version=1)
    assert (replaced.version, replaced.states.channel, replaced.max_gap_seconds) == (2, "", 300)
    condition = replaced.states.conditions[0]
    assert (condition.category, condition.condition.predicates[0].operator) == (
        pb.TIME_CATEGORY_PRODUCING,
        pb.OPERATOR_GT,
    )
    assert (replaced.good.wraps_at, replaced.created_at) == (1000, created.created_at)
    assert code_of(lambda: plant.put_model(MODEL, version=1)) == grpc.StatusCode.ABORTED

    stale = pb.DeleteMachineModelRequest(**key, expected_version=1)
    assert code_of(lambda: plant.stub.DeleteMachineModel(stale)) == grpc.StatusCode.ABORTED
    deleted = plant.stub.DeleteMachineModel(pb.DeleteMachineModelRequest(**key, expected_version=2))
    assert deleted.version == 3
    assert code_of(lambda: plant.stub.GetMachineModel(pb.GetMachineModelRequest(**key))) == (
        grpc.StatusCode.NOT_FOUND
    )
    # Created anew: its versions count on from the deleted one's.
    assert plant.put_model(MODEL).version == 4


def test_a_calendar_is_put_read_listed_replaced_and_deleted_by_version(plant: Plant) -> None:
    holidays = {"holidays": ["2026-12-25"], "exceptions": [{"date": "2026-12-24", "shifts": []}]}
    created = plant.put_calendar("Werk Süd", {**BERLIN_DAYS, **holidays})
    assert (created.version, created.site, created.zone) == (1, "Werk Süd", "Europe/Berlin")
    assert [(s.name, s.start, s.end) for s in created.week.tuesday] == [("early", "06:00", "14:00")]
    assert (list(created.holidays), created.exceptions[0].date, list(created.week.sunday)) == (
        ["2026-12-25"],
        "2026-12-24",
        [],
    )
    key = {"tenant_id": TENANT, "site": "Werk Süd"}
    assert plant.stub.GetSiteCalendar(pb.GetSiteCalendarRequest(**key)) == created
    listed = plant.stub.ListSiteCalendars(pb.ListSiteCalendarsRequest(tenant_id=TENANT))
    assert list(listed.calendars) == [created]

    replaced = plant.put_calendar("Werk Süd", {**BERLIN_DAYS, "zone": "Europe/Vienna"}, version=1)
    assert (replaced.version, replaced.zone, list(replaced.holidays)) == (2, "Europe/Vienna", [])
    assert code_of(lambda: plant.put_calendar("Werk Süd", BERLIN_DAYS)) == grpc.StatusCode.ABORTED
    deleted = plant.stub.DeleteSiteCalendar(pb.DeleteSiteCalendarRequest(**key, expected_version=2))
    assert deleted.version == 3
    assert code_of(lambda: plant.stub.GetSiteCalendar(pb.GetSiteCalendarRequest(**key))) == (
        grpc.StatusCode.NOT_FOUND
    )


def states_of(channel: str, value: Any) -> dict[str, Any]:
    return {
        **MODEL,
        "states": {
            "channel": channel,
            "values": [{"value": value, "category": "producing"}],
            "default": "idle",
        },
    }


HOSTILE_MODELS: dict[str, tuple[dict[str, Any], str]] = {
    "an unknown channel": (states_of("coolant", "ON"), "model.states.channel"),
    "a float state channel": (states_of("spindle_temp", 1), "model.states.channel"),
    "a value the enum does not allow": (states_of("mode", "TURBO"), "model.states.values.0.value"),
    "a number for an enum": (states_of("mode", 3), "model.states.values.0.value"),
    "a string counter": ({**MODEL, "produced": {"channel": "program"}}, "model.produced.channel"),
    "scrap and good together": ({**MODEL, "good": {"channel": "good"}}, "model.good"),
    "an unknown channel in a condition": (
        {
            **BY_CONDITIONS,
            "states": {
                "conditions": [
                    {
                        "category": "fault",
                        "condition": {
                            "predicates": [{"channel": "x", "operator": "eq", "value": {"flag": True}}]
                        },
                    }
                ],
                "default": "idle",
            },
        },
        "model.states.conditions.0.condition.predicates.0.channel",
    ),
    "a gap of two days": ({**MODEL, "max_gap_seconds": 2 * 86400}, "model.max_gap_seconds"),
}


@pytest.mark.parametrize("case", HOSTILE_MODELS)
def test_a_model_that_makes_no_sense_is_refused_naming_its_field(plant: Plant, case: str) -> None:
    definition, field = HOSTILE_MODELS[case]
    assert field in violations(lambda: plant.put_model(definition))
    assert not plant.stub.ListMachineModels(pb.ListMachineModelsRequest(tenant_id=TENANT)).models


def test_a_model_s_key_and_unset_parts_are_named_as_the_request_holds_them(plant: Plant) -> None:
    model = pb.MachineModel(profile_id="not-a-uuid", states=pb.MachineStates(channel="mode"))
    found = violations(
        lambda: plant.stub.PutMachineModel(pb.PutMachineModelRequest(tenant_id=TENANT, model=model))
    )
    assert set(found) == {"model.profile_id"}
    model.profile_id = plant.profile
    model.states.values.add(category=pb.TIME_CATEGORY_SETUP)
    found = violations(
        lambda: plant.stub.PutMachineModel(pb.PutMachineModelRequest(tenant_id=TENANT, model=model))
    )
    assert {"model.states.default", "model.states.values.0.value"} <= set(found)
    model.states.values[0].category = 42
    found = violations(
        lambda: plant.stub.PutMachineModel(pb.PutMachineModelRequest(tenant_id=TENANT, model=model))
    )
    assert set(found) == {"model.states.values.0.category"}
    assert set(violations(lambda: plant.put_calendar("", BERLIN_DAYS))) == {"calendar.site"}


def shifts(start: str, end: str, name: str = "early") -> list[dict[str, str]]:
    return [{"name": name, "start": start, "end": end}]


HOSTILE_CALENDARS: dict[str, tuple[dict[str, Any], str]] = {
    "an unknown zone": ({**BERLIN_DAYS, "zone": "Mars/Olympus_Mons"}, "calendar.zone"),
    "a shift not on a quarter hour": (
        {"zone": "UTC", "week": {"friday": shifts("06:10", "14:00")}},
        "calendar.week.friday.0.start",
    ),
    "overlapping shifts": (
        {"zone": "UTC", "week": {"monday": shifts("06:00", "14:00") + shifts("13:00", "22:00", "late")}},
        "calendar.week.monday",
    ),
    "a bad date": ({"zone": "UTC", "holidays": ["2026-02-30"]}, "calendar.holidays.0"),
    "a bad exception date": (
        {"zone": "UTC", "exceptions": [{"date": "tomorrow", "shifts": []}]},
        "calendar.exceptions.0.date",
    ),
}


@pytest.mark.parametrize("case", HOSTILE_CALENDARS)
def test_a_calendar_that_makes_no_sense_is_refused_naming_its_field(plant: Plant, case: str) -> None:
    definition, field = HOSTILE_CALENDARS[case]
    found = violations(lambda: plant.put_calendar("berlin", definition))
    assert any(name.startswith(field) for name in found), found


def test_another_tenant_s_models_calendars_and_devices_are_not_found(plant: Plant) -> None:
    plant.put_model(MODEL)
    plant.put_calendar("berlin", BERLIN_DAYS)
    stranger = {"tenant_id": STRANGER}
    calls = [
        lambda: plant.stub.GetMachineModel(pb.GetMachineModelRequest(**stranger, profile_id=plant.profile)),
        lambda: plant.stub.DeleteMachineModel(
            pb.DeleteMachineModelRequest(**stranger, profile_id=plant.profile, expected_version=1)
        ),
        # Their profile is unknown to the stranger, as a profile that does not exist.
        lambda: plant.put_model(MODEL, tenant=STRANGER),
        lambda: plant.stub.GetSiteCalendar(pb.GetSiteCalendarRequest(**stranger, site="berlin")),
        lambda: plant.stub.DeleteSiteCalendar(
            pb.DeleteSiteCalendarRequest(**stranger, site="berlin", expected_version=1)
        ),
        lambda: plant.stub.GetPerformance(report_request(device_id=device(plant), tenant=STRANGER)),
        lambda: plant.stub.GetPerformance(report_request(site="berlin", tenant=STRANGER)),
    ]
    for call in calls:
        assert code_of(call) == grpc.StatusCode.NOT_FOUND
    assert not plant.stub.ListMachineModels(pb.ListMachineModelsRequest(**stranger)).models
    assert not plant.stub.ListSiteCalendars(pb.ListSiteCalendarsRequest(**stranger)).calendars
    # The stranger's own calendar of a site of that name is theirs alone.
    assert plant.put_calendar("berlin", BERLIN_DAYS, tenant=STRANGER).version == 1
    assert plant.stub.GetSiteCalendar(pb.GetSiteCalendarRequest(tenant_id=TENANT, site="berlin")).version == 1


def device(plant: Plant) -> str:
    return teach_device(plant.store, TENANT, plant.profile, site="berlin")


def report_request(
    granularity: int = pb.GRANULARITY_SHIFT, tenant: str = TENANT, **scope: Any
) -> pb.GetPerformanceRequest:
    return pb.GetPerformanceRequest(
        tenant_id=tenant,
        start=timestamp(MONDAY),
        end=timestamp(MONDAY + timedelta(days=1)),
        granularity=granularity,
        **scope,
    )


def test_a_shift_s_figures_and_inputs_are_reported(plant: Plant) -> None:
    plant.put_model(MODEL)
    plant.put_calendar("berlin", BERLIN_DAYS)
    machine = device(plant)
    plant.evaluation.apply([batch(TENANT, (machine, early_shift(machine)))])

    for scope in ({"device_id": machine}, {"site": "berlin"}):
        report = plant.stub.GetPerformance(report_request(**scope))
        (shift,) = report.periods
        assert (report.zone, shift.shift, shift.start, shift.end) == (
            "Europe/Berlin",
            "early",
            timestamp(MONDAY + timedelta(hours=5)),
            timestamp(MONDAY + timedelta(hours=13)),
        )
        inputs, figures = shift.inputs, shift.figures
        assert (inputs.pbt, inputs.apt, inputs.aubt, inputs.pq, inputs.gq) == (28800, 23400, 27000, 400, 395)
        assert (inputs.failures, inputs.restorations, inputs.restoration) == (1, 1, 1800)
        assert figures.availability == pytest.approx(23400 / 28800)
        assert figures.oee == pytest.approx(23400 / 28800 * 20000 / 23400 * 395 / 400)
        assert (figures.mtbf_seconds, figures.mttr_seconds) == (23400, 1800)

    fleet = plant.stub.GetPerformance(report_request(pb.GRANULARITY_HOUR, fleet=True, zone="Asia/Tokyo"))
    assert fleet.zone == "Asia/Tokyo" and len(fleet.periods) == 24
    # Hours outside every shift plan nothing: their availability is undefined, not 0.
    first = fleet.periods[0]
    assert not first.figures.HasField("availability") and first.inputs.pbt == 0


def test_a_report_request_that_makes_no_sense_is_refused_naming_its_field(plant: Plant) -> None:
    machine = device(plant)
    cases = {
        "scope": report_request(),
        "granularity": report_request(0, device_id=machine),
        "zone": report_request(pb.GRANULARITY_DAY, fleet=True, zone="Atlantis"),
        "end": pb.GetPerformanceRequest(
            tenant_id=TENANT,
            fleet=True,
            granularity=pb.GRANULARITY_DAY,
            start=timestamp(MONDAY),
            end=timestamp(MONDAY),
        ),
        "start": pb.GetPerformanceRequest(tenant_id=TENANT, fleet=True, granularity=pb.GRANULARITY_DAY),
        "device_id": report_request(device_id="mill-7"),
    }
    for field, request in cases.items():
        assert field in violations(lambda request=request: plant.stub.GetPerformance(request)), field
