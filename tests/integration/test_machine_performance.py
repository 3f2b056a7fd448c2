"""Machine performance tracked on batches of readings as analytics-evaluator applies them,
and asked for per shift, hour and day, on SQLite and PostgreSQL: hand-computed timelines
(a day shift in Europe/Berlin, the night its clocks go back, a night shift crossing
midnight in Asia/Shanghai), batches delivered again, a restarted evaluator, late
readings, a new model version, sites and fleets, and other tenants' devices."""

from __future__ import annotations

import dataclasses
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from services.analytics.domain.performance import Inputs
from services.analytics.usecases.capacity import Capacity, publish_measured_capacity
from services.analytics.usecases.directory import Directory
from services.analytics.usecases.evaluation import Evaluation
from services.analytics.usecases.performance import Granularity, Performance, Period, Scope
from services.analytics.usecases.performance_tracking import REMEMBER_MACHINE_LOG
from services.analytics.usecases.plant_settings import PlantSettings
from services.kit.bus import ConfirmingPublisher
from services.kit.errors import NotFound, Unavailable
from services.kit.events import new_event, parse_event
from services.kit.registry import ProfileChannel
from services.kit.store import Store
from tests.support.access import ManualClock
from tests.support.analytics import ProfileRegistry, analytics_store, batch, teach_device

TENANT = str(uuid.uuid4())
CHANNELS = {
    "mode": ProfileChannel("enum", ("RUN", "SETUP", "IDLE", "BREAK", "FAULT")),
    "parts": ProfileChannel("int"),
    "scrap": ProfileChannel("int"),
}
MODEL = {
    "states": {
        "channel": "mode",
        "values": [
            {"value": "RUN", "category": "producing"},
            {"value": "SETUP", "category": "setup"},
            {"value": "BREAK", "category": "planned_downtime"},
            {"value": "FAULT", "category": "fault"},
        ],
        "default": "idle",
    },
    "produced": {"channel": "parts", "wraps_at": 65536},
    "scrap": {"channel": "scrap"},
    "ideal_cycle_seconds": 50,
    "ideal_cycle_attribute": "cycle_s",
    # The timelines below report every half hour or hour; a real machine, every second.
    "max_gap_seconds": 3 * 3600,
}
BERLIN_DAYS = {
    "zone": "Europe/Berlin",
    "week": {day: [{"name": "early", "start": "06:00", "end": "14:00"}] for day in ("monday", "tuesday")},
}
BERLIN_NIGHTS = {
    "zone": "Europe/Berlin",
    "week": {"saturday": [{"name": "night", "start": "22:00", "end": "06:00"}]},
}
SHANGHAI_NIGHTS = {
    "zone": "Asia/Shanghai",
    "week": {"monday": [{"name": "night", "start": "20:00", "end": "04:00"}]},
}
# Monday 2 March 2026: Berlin is at UTC+1, the early shift 05:00-13:00 UTC.
MONDAY = datetime(2026, 3, 2, tzinfo=UTC)


def at(day: datetime, hours: float) -> int:
    return int((day + timedelta(hours=hours)).timestamp() * 1000)


@dataclass
class Factory:
    store: Store
    registry: ProfileRegistry
    profile: str
    settings: PlantSettings
    evaluation: Evaluation

    def device(self, site: str, attributes: dict[str, Any] | None = None, tenant: str = TENANT) -> str:
        return teach_device(self.store, tenant, self.profile, attributes=attributes, site=site)

    def apply(self, device: str, *samples: tuple[int, dict[str, Any]]) -> None:
        self.evaluation.apply([batch(TENANT, (device, list(samples)))])

    def periods(
        self, scope: Scope, start: datetime, end: datetime, granularity: Granularity, zone: str = ""
    ) -> list[Period]:
        return Performance(self.store.unit_of_work).periods(TENANT, scope, start, end, granularity, zone)[1]


@pytest.fixture
def factory(database_url: str, publisher: ConfirmingPublisher, clock: ManualClock) -> Iterator[Factory]:
    registry = ProfileRegistry()
    profile = registry.profile(TENANT, CHANNELS)
    with analytics_store(database_url, publisher) as store:
        settings = PlantSettings(store.unit_of_work, registry, clock)
        settings.put_machine_model(TENANT, profile, MODEL, 0)
        yield Factory(store, registry, profile, settings, Evaluation(store.unit_of_work, clock))


def early_shift(device: str) -> list[tuple[int, dict[str, Any]]]:
    """Monday's early shift (05:00-13:00 UTC): 30 min setup, 6.5 h producing, a 30-minute
    fault at 08:00, 30 min idle; 400 parts made, 5 of them scrap; then idle after the shift."""
    return [
        (at(MONDAY, 5), {"mode": "SETUP", "parts": 1000, "scrap": 10}),
        (at(MONDAY, 5.5), {"mode": "RUN"}),
        (at(MONDAY, 8), {"mode": "FAULT", "parts": 1150, "scrap": 12}),
        (at(MONDAY, 8.5), {"mode": "RUN"}),
        (at(MONDAY, 11), {"mode": "IDLE", "parts": 1300, "scrap": 15}),
        (at(MONDAY, 11.5), {"mode": "RUN"}),
        (at(MONDAY, 13), {"mode": "IDLE", "parts": 1400}),
        (at(MONDAY, 13.5), {"mode": "IDLE"}),
    ]


def shift_inputs(factory: Factory, scope: Scope) -> Inputs:
    (shift,) = factory.periods(scope, MONDAY, MONDAY + timedelta(days=1), Granularity.SHIFT)
    assert (shift.shift, shift.start, shift.end) == (
        "early",
        MONDAY + timedelta(hours=5),
        MONDAY + timedelta(hours=13),
    )
    return shift.figures.inputs


def test_a_shift_s_figures_are_those_of_its_timeline_worked_by_hand(factory: Factory) -> None:
    factory.settings.put_site_calendar(TENANT, "berlin", BERLIN_DAYS, 0)
    device = factory.device("berlin")
    factory.apply(device, *early_shift(device))

    (shift,) = factory.periods(Scope(device_id=device), MONDAY, MONDAY + timedelta(days=1), Granularity.SHIFT)
    figures, inputs = shift.figures, shift.figures.inputs
    # PBT 8 h; APT 2.5 + 2.5 + 1.5 h; setup, fault and idle 30 min each.
    assert (inputs.pbt, inputs.apt, inputs.asut, inputs.adot, inputs.adet) == (28800, 23400, 1800, 1800, 1800)
    assert (inputs.pq, inputs.sq, inputs.gq) == (400, 5, 395)
    assert (inputs.failures, inputs.restorations, inputs.restoration) == (1, 1, 1800)
    assert figures.availability == pytest.approx(23400 / 28800)
    # 400 parts at 50 s each: 20,000 s of ideal production in 23,400 s producing.
    assert figures.effectiveness == pytest.approx(20000 / 23400)
    assert figures.quality_ratio == pytest.approx(395 / 400)
    assert figures.oee == pytest.approx(23400 / 28800 * 20000 / 23400 * 395 / 400)
    assert (figures.mtbf, figures.mttr) == (23400, 1800)
    # After the shift, the machine stood idle for half an hour: capacity outside the plan.
    midnight = MONDAY - timedelta(hours=1)
    (day,) = factory.periods(Scope(device_id=device), midnight, midnight + timedelta(days=1), Granularity.DAY)
    assert day.start == midnight
    assert (day.figures.inputs.idle_outside_plan, day.figures.inputs.apt) == (1800, 23400)


def test_a_device_s_own_cycle_time_and_a_counter_s_wrap_count(factory: Factory) -> None:
    factory.settings.put_site_calendar(TENANT, "berlin", BERLIN_DAYS, 0)
    device = factory.device("berlin", attributes={"cycle_s": 20})
    factory.apply(
        device,
        (at(MONDAY, 5), {"mode": "RUN", "parts": 65500}),
        # Wrapped at 65536: 36 parts to the wrap and 64 after it.
        (at(MONDAY, 6), {"mode": "RUN", "parts": 64}),
        (at(MONDAY, 7), {"mode": "IDLE"}),
    )
    inputs = shift_inputs(factory, Scope(device_id=device))
    assert (inputs.apt, inputs.pq, inputs.ideal_production) == (7200, 100, 2000)


def test_hours_of_the_night_berlin_s_clocks_go_back_are_nine(factory: Factory) -> None:
    factory.settings.put_site_calendar(TENANT, "berlin", BERLIN_NIGHTS, 0)
    device = factory.device("berlin")
    # Saturday 24 October 2026, 22:00 CEST is 20:00 UTC; Sunday 06:00 CET is 05:00 UTC.
    saturday = datetime(2026, 10, 24, tzinfo=UTC)
    factory.apply(device, *((at(saturday, 20 + h / 2), {"mode": "RUN"}) for h in range(19)))

    hours = factory.periods(
        Scope(device_id=device),
        saturday + timedelta(hours=20),
        saturday + timedelta(hours=29),
        Granularity.HOUR,
    )
    assert len(hours) == 9
    assert [hour.figures.inputs.apt for hour in hours] == [3600] * 9
    assert all(hour.figures.availability == 1 for hour in hours)
    (night,) = factory.periods(
        Scope(device_id=device), saturday, saturday + timedelta(days=2), Granularity.SHIFT
    )
    assert (night.figures.inputs.pbt, night.figures.inputs.apt) == (9 * 3600, 9 * 3600)


def test_a_night_shift_crossing_midnight_in_shanghai_splits_into_its_two_local_days(factory: Factory) -> None:
    factory.settings.put_site_calendar(TENANT, "shanghai", SHANGHAI_NIGHTS, 0)
    device = factory.device("shanghai")
    # Monday 20:00 to Tuesday 04:00 in Shanghai (UTC+8) is 12:00 to 20:00 UTC on Monday;
    # the machine runs from 13:00 UTC (21:00 local) to the shift's end.
    factory.apply(device, *((at(MONDAY, 13 + h), {"mode": "RUN"}) for h in range(8)))

    days = factory.periods(Scope(device_id=device), MONDAY, MONDAY + timedelta(days=1), Granularity.DAY)
    assert [day.start for day in days] == [MONDAY - timedelta(hours=8), MONDAY + timedelta(hours=16)]
    # Monday (local): 20:00-24:00 planned, producing from 21:00; Tuesday: 00:00-04:00.
    assert [(d.figures.inputs.pbt, d.figures.inputs.apt) for d in days] == [(14400, 10800), (14400, 14400)]
    assert [d.figures.inputs.unreported for d in days] == [3600, 0]


def test_a_batch_delivered_again_and_a_restarted_evaluator_count_nothing_twice(
    factory: Factory, clock: ManualClock
) -> None:
    factory.settings.put_site_calendar(TENANT, "berlin", BERLIN_DAYS, 0)
    device = factory.device("berlin")
    samples = early_shift(device)
    first = batch(TENANT, (device, samples[:4]))
    factory.evaluation.apply([first])
    factory.evaluation.apply([first])
    # A new process resumes from the committed trackers.
    restarted = Evaluation(factory.store.unit_of_work, clock)
    restarted.apply([first, batch(TENANT, (device, samples[4:]))])

    reference = factory.device("berlin")
    factory.apply(reference, *early_shift(reference))
    assert shift_inputs(factory, Scope(device_id=device)) == shift_inputs(factory, Scope(device_id=reference))


def test_late_readings_count_in_their_places_as_if_they_had_come_in_time(factory: Factory) -> None:
    factory.settings.put_site_calendar(TENANT, "berlin", BERLIN_DAYS, 0)
    device = factory.device("berlin")
    samples = early_shift(device)
    late = (at(MONDAY, 6), {"mode": "FAULT", "parts": 1100, "scrap": 11})
    factory.apply(device, *samples[:5])
    # A fault an hour into the shift, and the end of the shift, sent after the rest.
    factory.apply(device, *samples[6:])
    factory.apply(device, late, samples[5])

    reference = factory.device("berlin")
    factory.apply(reference, *sorted([*samples, late], key=lambda sample: sample[0]))
    recomputed = shift_inputs(factory, Scope(device_id=device))
    assert dataclasses.astuple(recomputed) == pytest.approx(
        dataclasses.astuple(shift_inputs(factory, Scope(device_id=reference)))
    )
    # The fault now starts at 06:00 rather than 08:00.
    assert (recomputed.failures, recomputed.adot, recomputed.pq) == (1, 2.5 * 3600, 400)


def test_a_reading_older_than_the_machine_s_log_is_left_out(factory: Factory, clock: ManualClock) -> None:
    factory.settings.put_site_calendar(TENANT, "berlin", BERLIN_DAYS, 0)
    device = factory.device("berlin")
    samples = early_shift(device)
    factory.apply(device, *samples[:3])
    clock.advance(REMEMBER_MACHINE_LOG + timedelta(days=30))
    factory.evaluation.forget_old()
    factory.apply(device, *samples[3:], (at(MONDAY, 6), {"mode": "FAULT", "parts": 5000}))

    reference = factory.device("berlin")
    factory.apply(reference, *samples)
    assert shift_inputs(factory, Scope(device_id=device)) == shift_inputs(factory, Scope(device_id=reference))


def test_a_new_model_version_starts_the_machines_afresh(factory: Factory) -> None:
    factory.settings.put_site_calendar(TENANT, "berlin", BERLIN_DAYS, 0)
    device = factory.device("berlin")
    factory.apply(device, (at(MONDAY, 5), {"mode": "RUN", "parts": 10}), (at(MONDAY, 6), {"mode": "RUN"}))
    factory.settings.put_machine_model(TENANT, factory.profile, {**MODEL, "ideal_cycle_seconds": 60}, 1)
    # The new tracker's first reading sets its baseline: 10 parts made before it are not counted.
    factory.apply(
        device, (at(MONDAY, 7), {"mode": "RUN", "parts": 20}), (at(MONDAY, 8), {"mode": "IDLE", "parts": 30})
    )
    inputs = shift_inputs(factory, Scope(device_id=device))
    assert (inputs.apt, inputs.pq, inputs.ideal_production) == (3600 + 3600, 10, 600)


def test_a_site_and_the_fleet_sum_their_machines_and_plan_each(factory: Factory) -> None:
    factory.settings.put_site_calendar(TENANT, "berlin", BERLIN_DAYS, 0)
    running, silent = factory.device("berlin"), factory.device("berlin")
    factory.device("elsewhere")
    factory.apply(running, *early_shift(running))

    site = shift_inputs(factory, Scope(site="berlin"))
    # Two machines planned for 8 hours; the silent one reported nothing of its 8.
    assert (site.pbt, site.apt, site.unreported) == (2 * 28800, 23400, 28800)
    alone = shift_inputs(factory, Scope(device_id=silent))
    assert (alone.pbt, alone.apt, alone.unreported) == (28800, 0, 28800)
    (fleet_day,) = factory.periods(Scope(), MONDAY, MONDAY + timedelta(days=1), Granularity.DAY, zone="UTC")
    assert (fleet_day.figures.inputs.pbt, fleet_day.figures.inputs.apt) == (2 * 28800, 23400)


def test_another_tenant_s_device_and_an_unknown_site_are_not_found(factory: Factory) -> None:
    other = factory.device("berlin", tenant=str(uuid.uuid4()))
    for scope in (Scope(device_id=other), Scope(device_id=str(uuid.uuid4())), Scope(site="nowhere")):
        with pytest.raises(NotFound):
            factory.periods(scope, MONDAY, MONDAY + timedelta(days=1), Granularity.DAY)


def test_a_device_moved_to_another_site_counts_there_from_then_on(factory: Factory) -> None:
    factory.settings.put_site_calendar(TENANT, "berlin", BERLIN_DAYS, 0)
    device = factory.device("berlin")
    samples = early_shift(device)
    factory.apply(device, *samples[:2])
    moved = {
        "device_id": device,
        "version": 2,
        "changed": ["site"],
        "profile_id": factory.profile,
        "profile_version": 1,
        "site": "munich",
    }
    Directory(factory.store.unit_of_work).learn(new_event("device.updated", TENANT, moved))
    factory.apply(device, *samples[2:])

    # Setup until 05:30 went to Berlin; the rest of the shift to Munich, which plans nothing.
    assert shift_inputs(factory, Scope(site="berlin")).asut == 1800
    (munich,) = factory.periods(Scope(site="munich"), MONDAY, MONDAY + timedelta(days=1), Granularity.DAY)
    assert (munich.figures.inputs.unplanned_producing, munich.figures.inputs.pbt) == (23400, 0)


def test_measured_capacity_shows_each_hour_of_the_week_as_the_machine_spent_it(
    factory: Factory, clock: ManualClock
) -> None:
    factory.settings.put_site_calendar(TENANT, "berlin", BERLIN_DAYS, 0)
    device = factory.device("berlin")
    # Four Mondays: producing 05:00-13:00 UTC (the early shift, 06:00-14:00 in Berlin),
    # then idle until 15:00; faulted 08:00-08:30 on the last one.
    for week in range(4):
        monday = MONDAY + timedelta(weeks=week)
        readings = [(at(monday, hour), {"mode": "RUN" if hour < 13 else "IDLE"}) for hour in range(5, 16)]
        if week == 3:
            readings[3:4] = [(at(monday, 8), {"mode": "FAULT"}), (at(monday, 8.5), {"mode": "RUN"})]
        factory.apply(device, *readings)
    clock.now = MONDAY + timedelta(weeks=4)

    measured = Capacity(factory.store.unit_of_work, clock).measured(TENANT, device)

    assert (measured.zone, measured.start, measured.end) == ("Europe/Berlin", MONDAY, clock.now)
    by_hour = {(h.weekday, h.hour): h for h in measured.hours}
    assert len(measured.hours) == 168
    # 06:00-07:00 Berlin on Monday: produced every week.
    assert (by_hour[(0, 6)].producing, by_hour[(0, 6)].idle) == (3600, 0)
    # 09:00 Berlin: faulted half an hour in one of four weeks.
    assert (by_hour[(0, 9)].producing, by_hour[(0, 9)].down) == (3600 - 1800 / 4, 1800 / 4)
    # 14:00-16:00 Berlin: idle after the shift, capacity to sell.
    assert by_hour[(0, 14)].idle == by_hour[(0, 15)].idle == 3600
    assert by_hour[(1, 10)].producing == by_hour[(1, 10)].idle == 0
    assert measured.idle_hours_per_week == 2
    assert measured.utilisation == (8 * 3600 - 1800 / 4) / (168 * 3600)
    assert measured.figures.mtbf == 4 * 8 * 3600 - 1800


def test_every_modelled_machine_s_measured_capacity_is_published_through_the_outbox(
    factory: Factory, clock: ManualClock
) -> None:
    factory.settings.put_site_calendar(TENANT, "berlin", BERLIN_DAYS, 0)
    device = factory.device("berlin")
    unmodelled = teach_device(
        factory.store, TENANT, factory.registry.profile(TENANT, CHANNELS), site="berlin"
    )
    retired = factory.device("berlin")
    decommissioned = {
        "device_id": retired,
        "version": 2,
        "previous_state": "active",
        "state": "decommissioned",
    }
    Directory(factory.store.unit_of_work).learn(new_event("device.decommissioned", TENANT, decommissioned))
    for week in range(4):
        monday = MONDAY + timedelta(weeks=week)
        readings = [(at(monday, hour), {"mode": "RUN" if hour < 13 else "IDLE"}) for hour in range(5, 16)]
        factory.apply(device, *readings)
        factory.apply(unmodelled, *readings)
        factory.apply(retired, *readings)
    clock.now = MONDAY + timedelta(weeks=4) + timedelta(minutes=20)

    assert publish_measured_capacity(factory.store.unit_of_work, clock) == 1

    outbox = factory.store.metadata.tables["outbox"]
    with factory.store.engine.connect() as connection:
        (body,) = connection.execute(
            select(outbox.c.body).where(outbox.c.type == "capacity.measured")
        ).scalars()
    event = parse_event(body)
    measured = Capacity(factory.store.unit_of_work, clock).measured(TENANT, device)
    assert (event.type, event.tenant_id, event.data["device_id"]) == ("capacity.measured", TENANT, device)
    assert (event.data["zone"], event.data["start"], event.data["end"]) == (
        "Europe/Berlin",
        MONDAY,
        MONDAY + timedelta(weeks=4),
    )
    assert event.data["measured_at"] == clock.now
    hours = {(h["weekday"], h["hour"]): h for h in event.data["hours"]}
    assert len(hours) == 168
    assert (hours[(0, 6)]["producing_seconds"], hours[(0, 14)]["idle_seconds"]) == (3600, 3600)
    assert hours[(1, 10)]["down_seconds"] == 0
    assert event.data["idle_hours_per_week"] == measured.idle_hours_per_week == 2
    assert event.data["utilisation"] == pytest.approx(measured.utilisation)
    assert event.data["oee"] == measured.figures.oee
    # Never faulted: no failure to measure the time between.
    assert event.data["mtbf_seconds"] is None


def test_measuring_capacity_stops_at_the_first_database_failure(factory: Factory, clock: ManualClock) -> None:
    for _ in range(3):
        factory.device("berlin")
    attempts: list[bool] = []

    def failing(read_only: bool = False) -> Any:
        # The listing of devices reads; each publication would write.
        if not read_only:
            attempts.append(True)
            raise Unavailable("the database is down")
        return factory.store.unit_of_work(read_only=True)

    assert publish_measured_capacity(failing, clock) == 0
    assert len(attempts) == 1


def test_a_machine_s_capacity_is_measured_again_only_once_what_it_rests_on_changed(
    factory: Factory, clock: ManualClock
) -> None:
    factory.settings.put_site_calendar(TENANT, "berlin", BERLIN_DAYS, 0)
    device, quiet = factory.device("berlin"), factory.device("berlin")
    both = sorted([device, quiet])
    factory.apply(device, (at(MONDAY, 6), {"mode": "RUN"}))
    clock.now = MONDAY + timedelta(hours=8)

    def published_now() -> list[str]:
        before = Counter(measured_devices())
        publish_measured_capacity(factory.store.unit_of_work, clock)
        return sorted((Counter(measured_devices()) - before).elements())

    def measured_devices() -> list[str]:
        outbox = factory.store.metadata.tables["outbox"]
        with factory.store.engine.connect() as connection:
            bodies = connection.execute(
                select(outbox.c.body).where(outbox.c.type == "capacity.measured")
            ).scalars()
            return [parse_event(body).data["device_id"] for body in bodies]

    assert published_now() == both
    clock.now += timedelta(minutes=30)
    assert published_now() == []
    # A reading moves the tracker on.
    factory.apply(device, (at(MONDAY, 7), {"mode": "IDLE"}))
    assert published_now() == [device]
    factory.settings.put_site_calendar(TENANT, "berlin", BERLIN_NIGHTS, 1)
    assert published_now() == both
    # The next whole hour moves the measured weeks.
    clock.now += timedelta(minutes=30)
    assert published_now() == both
    assert published_now() == []
