"""Alarm rules evaluated on batches of accepted readings, as analytics-evaluator applies
them, on SQLite and PostgreSQL: alarms raised, escalated and cleared with their events;
batches delivered again and processes restarted with no second effect and no lost
progress; NO_DATA by the clock; per-machine thresholds and labels; people's clears."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import orjson
import pytest
from sqlalchemy import select

from services.analytics.domain.rules import Severity
from services.analytics.storage import alarms, readings_per_minute
from services.analytics.usecases.alarms import Alarms
from services.analytics.usecases.evaluation import Evaluation
from services.analytics.usecases.rules import Rules
from services.kit.bus import ConfirmingPublisher
from services.kit.store import Store
from tests.integration.conftest import CapturedEvents
from tests.support.access import ManualClock
from tests.support.analytics import ProfileRegistry, above, analytics_store, batch, below, teach_device

TENANT = str(uuid.uuid4())
HYSTERESIS = {
    "name": "spindle overheating",
    "create": [{"severity": "major", "trigger": {"kind": "simple", "condition": above("spindle_temp", 90)}}],
    "clear": {"trigger": {"kind": "simple", "condition": below("spindle_temp", 80)}},
}


@pytest.fixture
def store(database_url: str, publisher: ConfirmingPublisher) -> Iterator[Store]:
    with analytics_store(database_url, publisher) as analytics:
        yield analytics


@pytest.fixture
def registry() -> ProfileRegistry:
    return ProfileRegistry()


@pytest.fixture
def profile(registry: ProfileRegistry) -> str:
    return registry.profile(TENANT)


@pytest.fixture
def evaluation(store: Store, clock: ManualClock) -> Evaluation:
    return Evaluation(store.unit_of_work, clock)


def make_rule(store: Store, registry: ProfileRegistry, profile: str, definition: dict[str, Any]) -> str:
    return Rules(store.unit_of_work, registry).create(TENANT, profile, definition).id


def ms(clock: ManualClock, seconds: float = 0) -> int:
    return int((clock() + timedelta(seconds=seconds)).timestamp() * 1000)


def alarm_rows(store: Store) -> list[dict[str, Any]]:
    with store.engine.connect() as connection:
        return [
            dict(row) for row in connection.execute(select(alarms).order_by(alarms.c.started_at)).mappings()
        ]


def alarm_events(captured: CapturedEvents) -> list[tuple[str, str]]:
    """The alarm events published since last asked: (type, severity)."""
    found = []
    for _, body in captured.drain():
        event = orjson.loads(body)
        if event["type"].startswith("alarm."):
            found.append((event["type"], event["data"]["severity"]))
    return found


def temps(device: str, clock: ManualClock, *values: tuple[float, float]) -> tuple[str, list[Any]]:
    """Samples of spindle_temp at (seconds from now, value)."""
    return device, [(ms(clock, at), {"spindle_temp": value}) for at, value in values]


def test_an_alarm_raises_above_and_clears_below_its_hysteresis(
    store: Store,
    registry: ProfileRegistry,
    profile: str,
    evaluation: Evaluation,
    clock: ManualClock,
    captured: CapturedEvents,
) -> None:
    make_rule(store, registry, profile, HYSTERESIS)
    device = teach_device(store, TENANT, profile)
    evaluation.apply([batch(TENANT, temps(device, clock, (0, 95.0), (1, 85.0)))])
    (alarm,) = alarm_rows(store)
    assert (alarm["active"], alarm["severity"], alarm["device_id"]) == (True, Severity.MAJOR, device)
    assert alarm["raised_by"] == {"ts": ms(clock), "spindle_temp": 95.0}
    evaluation.apply([batch(TENANT, temps(device, clock, (2, 79.0)))])
    (alarm,) = alarm_rows(store)
    assert (alarm["active"], alarm["cleared_by"]) == (False, "rule")
    assert alarm["cleared_at"] == clock() + timedelta(seconds=2)
    assert alarm_events(captured) == [("alarm.raised", "major"), ("alarm.cleared", "major")]


ESCALATING = {
    "name": "spindle overheating",
    "create": [
        {
            "severity": "critical",
            "trigger": {"kind": "duration", "seconds": 60, "condition": above("spindle_temp", 95)},
        },
        {"severity": "major", "trigger": {"kind": "simple", "condition": above("spindle_temp", 90)}},
    ],
    "clear": {"unmet_for_seconds": 30},
}


def test_an_alarm_escalates_after_its_duration_and_de_escalates(
    store: Store,
    registry: ProfileRegistry,
    profile: str,
    evaluation: Evaluation,
    clock: ManualClock,
    captured: CapturedEvents,
) -> None:
    make_rule(store, registry, profile, ESCALATING)
    device = teach_device(store, TENANT, profile)
    evaluation.apply([batch(TENANT, temps(device, clock, (0, 96.0), (30, 97.0)))])
    assert alarm_rows(store)[0]["severity"] == Severity.MAJOR
    evaluation.apply([batch(TENANT, temps(device, clock, (61, 97.0), (70, 92.0)))])
    (alarm,) = alarm_rows(store)
    assert [severity for severity, _ in alarm["severity_history"]] == [
        Severity.MAJOR,
        Severity.CRITICAL,
        Severity.MAJOR,
    ]
    evaluation.apply([batch(TENANT, temps(device, clock, (80, 70.0), (100, 70.0)))])
    assert alarm_rows(store)[0]["active"]
    evaluation.apply([batch(TENANT, temps(device, clock, (111, 70.0)))])
    assert not alarm_rows(store)[0]["active"]
    assert alarm_events(captured) == [
        ("alarm.raised", "major"),
        ("alarm.severity_changed", "critical"),
        ("alarm.severity_changed", "major"),
        ("alarm.cleared", "major"),
    ]


def test_a_batch_delivered_again_has_no_second_effect(
    store: Store,
    registry: ProfileRegistry,
    profile: str,
    evaluation: Evaluation,
    clock: ManualClock,
    captured: CapturedEvents,
) -> None:
    make_rule(store, registry, profile, {**ESCALATING, "create": ESCALATING["create"][1:]})
    device = teach_device(store, TENANT, profile)
    first = batch(TENANT, temps(device, clock, (0, 95.0)))
    evaluation.apply([first])
    evaluation.apply([first, batch(TENANT, temps(device, clock, (0, 95.0)))])
    assert len(alarm_rows(store)) == 1
    assert alarm_events(captured) == [("alarm.raised", "major")]
    with store.engine.connect() as connection:
        counted = connection.execute(select(readings_per_minute.c.accepted)).scalars().all()
    assert counted == [2]


def test_a_restarted_evaluator_resumes_a_duration_where_it_was(
    store: Store, registry: ProfileRegistry, profile: str, clock: ManualClock
) -> None:
    make_rule(store, registry, profile, ESCALATING)
    device = teach_device(store, TENANT, profile)
    Evaluation(store.unit_of_work, clock).apply([batch(TENANT, temps(device, clock, (0, 96.0)))])
    successor = Evaluation(store.unit_of_work, clock)
    successor.apply([batch(TENANT, temps(device, clock, (61, 96.0)))])
    assert alarm_rows(store)[0]["severity"] == Severity.CRITICAL


def test_a_silent_device_raises_no_data_by_the_clock_and_clears_when_it_reports(
    store: Store,
    registry: ProfileRegistry,
    profile: str,
    evaluation: Evaluation,
    clock: ManualClock,
    captured: CapturedEvents,
) -> None:
    silent = {
        "name": "stopped reporting",
        "create": [{"severity": "warning", "trigger": {"kind": "no_data", "seconds": 60}}],
    }
    make_rule(store, registry, profile, silent)
    device = teach_device(store, TENANT, profile)
    evaluation.apply([batch(TENANT, temps(device, clock, (0, 20.0)))])
    clock.advance(timedelta(seconds=59))
    evaluation.tick()
    assert not alarm_rows(store)
    clock.advance(timedelta(seconds=2))
    evaluation.tick()
    (alarm,) = alarm_rows(store)
    assert (alarm["active"], alarm["severity"]) == (True, Severity.WARNING)
    evaluation.apply([batch(TENANT, temps(device, clock, (0, 20.0)))])
    assert not alarm_rows(store)[0]["active"]
    assert alarm_events(captured) == [("alarm.raised", "warning"), ("alarm.cleared", "warning")]


def test_per_machine_thresholds_and_labels_choose_what_is_watched(
    store: Store, registry: ProfileRegistry, profile: str, evaluation: Evaluation, clock: ManualClock
) -> None:
    by_attribute = {
        "name": "hotter than this machine may run",
        "labels": {"line": "L1"},
        "create": [
            {
                "severity": "minor",
                "trigger": {
                    "kind": "simple",
                    "condition": {
                        "predicates": [
                            {"channel": "spindle_temp", "operator": "gt", "value": {"attribute": "max_temp"}}
                        ]
                    },
                },
            }
        ],
    }
    make_rule(store, registry, profile, by_attribute)
    cool = teach_device(store, TENANT, profile, {"line": "L1"}, {"max_temp": 70})
    hot = teach_device(store, TENANT, profile, {"line": "L1"}, {"max_temp": 80})
    unlabelled = teach_device(store, TENANT, profile, {"line": "L2"}, {"max_temp": 10})
    without = teach_device(store, TENANT, profile, {"line": "L1"})
    samples = [temps(d, clock, (0, 75.0)) for d in (cool, hot, unlabelled, without)]
    evaluation.apply([batch(TENANT, *samples)])
    assert [row["device_id"] for row in alarm_rows(store)] == [cool]


def test_an_alarm_a_person_cleared_is_raised_anew_only_once_unmet(
    store: Store, registry: ProfileRegistry, profile: str, evaluation: Evaluation, clock: ManualClock
) -> None:
    make_rule(store, registry, profile, HYSTERESIS)
    device = teach_device(store, TENANT, profile)
    evaluation.apply([batch(TENANT, temps(device, clock, (0, 95.0)))])
    first = alarm_rows(store)[0]["id"]
    Alarms(store.unit_of_work, clock).clear(TENANT, first, "key-1")
    evaluation.apply([batch(TENANT, temps(device, clock, (1, 96.0), (2, 95.0)))])
    assert [row["active"] for row in alarm_rows(store)] == [False]
    evaluation.apply([batch(TENANT, temps(device, clock, (3, 70.0), (4, 95.0)))])
    rows = alarm_rows(store)
    assert [(row["id"] == first, row["active"]) for row in rows] == [(True, False), (False, True)]
    assert rows[0]["cleared_by"] == "key-1"


def test_deleting_a_rule_clears_its_alarms_and_stops_its_evaluation(
    store: Store, registry: ProfileRegistry, profile: str, evaluation: Evaluation, clock: ManualClock
) -> None:
    rule_id = make_rule(store, registry, profile, HYSTERESIS)
    device = teach_device(store, TENANT, profile)
    evaluation.apply([batch(TENANT, temps(device, clock, (0, 95.0)))])
    Rules(store.unit_of_work, registry).delete(TENANT, rule_id, 1)
    assert [(row["active"], row["cleared_by"]) for row in alarm_rows(store)] == [(False, "rule")]
    evaluation.apply([batch(TENANT, temps(device, clock, (1, 70.0), (2, 99.0)))])
    assert len(alarm_rows(store)) == 1


def test_readings_of_devices_not_known_yet_are_counted_and_evaluated_by_no_rule(
    store: Store, registry: ProfileRegistry, profile: str, evaluation: Evaluation, clock: ManualClock
) -> None:
    make_rule(store, registry, profile, HYSTERESIS)
    evaluation.apply([batch(TENANT, temps(str(uuid.uuid4()), clock, (0, 99.0)))])
    assert not alarm_rows(store)
