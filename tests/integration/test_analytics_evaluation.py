"""Alarm rules evaluated on batches of accepted readings, as analytics-evaluator applies
them, on SQLite and PostgreSQL: alarms raised, escalated and cleared with their events;
batches delivered again and processes restarted with no second effect and no lost
progress; NO_DATA by the clock; anomalies with their verdict; per-machine thresholds and
labels; people's clears."""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
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


@dataclass
class Plant:
    """A tenant's profile, its devices and rules in analytics's store, and the evaluation
    watching them by a clock the test moves."""

    store: Store
    registry: ProfileRegistry
    profile: str
    clock: ManualClock
    evaluation: Evaluation

    def rule(self, definition: dict[str, Any]) -> str:
        return Rules(self.store.unit_of_work, self.registry).create(TENANT, self.profile, definition).id

    def device(self, labels: dict[str, str] | None = None, attributes: dict[str, Any] | None = None) -> str:
        return teach_device(self.store, TENANT, self.profile, labels, attributes)

    def ms(self, seconds: float = 0) -> int:
        return int((self.clock() + timedelta(seconds=seconds)).timestamp() * 1000)

    def temps(self, device: str, *values: tuple[float, float]) -> tuple[str, list[Any]]:
        """Samples of spindle_temp at (seconds from now, value)."""
        return device, [(self.ms(at), {"spindle_temp": value}) for at, value in values]

    def apply(self, *devices: tuple[str, list[Any]]) -> None:
        """The devices' samples evaluated as one batch."""
        self.evaluation.apply([batch(TENANT, *devices)])

    def alarms(self) -> list[dict[str, Any]]:
        with self.store.engine.connect() as connection:
            query = select(alarms).order_by(alarms.c.started_at)
            return [dict(row) for row in connection.execute(query).mappings()]


@pytest.fixture
def plant(database_url: str, publisher: ConfirmingPublisher, clock: ManualClock) -> Iterator[Plant]:
    registry = ProfileRegistry()
    with analytics_store(database_url, publisher) as store:
        yield Plant(
            store,
            registry,
            registry.profile(TENANT),
            clock,
            Evaluation(store.unit_of_work, clock),
        )


def alarm_events(captured: CapturedEvents) -> list[tuple[str, str]]:
    """The alarm events published since last asked: (type, severity)."""
    found = []
    for _, body in captured.drain():
        event = orjson.loads(body)
        if event["type"].startswith("alarm."):
            found.append((event["type"], event["data"]["severity"]))
    return found


def test_an_alarm_raises_above_and_clears_below_its_hysteresis(
    plant: Plant, captured: CapturedEvents
) -> None:
    plant.rule(HYSTERESIS)
    device = plant.device()
    plant.apply(plant.temps(device, (0, 95.0), (1, 85.0)))
    (alarm,) = plant.alarms()
    assert (alarm["active"], alarm["severity"], alarm["device_id"]) == (True, Severity.MAJOR, device)
    assert alarm["raised_by"] == {"ts": plant.ms(), "spindle_temp": 95.0}
    plant.apply(plant.temps(device, (2, 79.0)))
    (alarm,) = plant.alarms()
    assert (alarm["active"], alarm["cleared_by"]) == (False, "rule")
    assert alarm["cleared_at"] == plant.clock() + timedelta(seconds=2)
    assert alarm_events(captured) == [("alarm.raised", "major"), ("alarm.cleared", "major")]


def test_an_alarm_cleared_and_raised_again_in_one_flush_leaves_one_active(plant: Plant) -> None:
    plant.rule(HYSTERESIS)
    device = plant.device()
    plant.apply(plant.temps(device, (0, 95.0)))
    # The alarm of the last flush clears, and a new one rises, before this flush commits.
    plant.apply(plant.temps(device, (1, 79.0), (2, 96.0)))
    first, second = plant.alarms()
    assert (first["active"], second["active"]) == (False, True)
    assert second["started_at"] == plant.clock() + timedelta(seconds=2)


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
    plant: Plant, captured: CapturedEvents
) -> None:
    plant.rule(ESCALATING)
    device = plant.device()
    plant.apply(plant.temps(device, (0, 96.0), (30, 97.0)))
    assert plant.alarms()[0]["severity"] == Severity.MAJOR
    plant.apply(plant.temps(device, (61, 97.0), (70, 92.0)))
    (alarm,) = plant.alarms()
    assert [severity for severity, _ in alarm["severity_history"]] == [
        Severity.MAJOR,
        Severity.CRITICAL,
        Severity.MAJOR,
    ]
    plant.apply(plant.temps(device, (80, 70.0), (100, 70.0)))
    assert plant.alarms()[0]["active"]
    plant.apply(plant.temps(device, (111, 70.0)))
    assert not plant.alarms()[0]["active"]
    assert alarm_events(captured) == [
        ("alarm.raised", "major"),
        ("alarm.severity_changed", "critical"),
        ("alarm.severity_changed", "major"),
        ("alarm.cleared", "major"),
    ]


def test_a_batch_delivered_again_has_no_second_effect(plant: Plant, captured: CapturedEvents) -> None:
    plant.rule({**ESCALATING, "create": ESCALATING["create"][1:]})
    device = plant.device()
    first = batch(TENANT, plant.temps(device, (0, 95.0)))
    plant.evaluation.apply([first])
    plant.evaluation.apply([first, batch(TENANT, plant.temps(device, (0, 95.0)))])
    assert len(plant.alarms()) == 1
    assert alarm_events(captured) == [("alarm.raised", "major")]
    with plant.store.engine.connect() as connection:
        counted = connection.execute(select(readings_per_minute.c.accepted)).scalars().all()
    assert counted == [2]


def test_a_restarted_evaluator_resumes_a_duration_where_it_was(plant: Plant) -> None:
    plant.rule(ESCALATING)
    device = plant.device()
    Evaluation(plant.store.unit_of_work, plant.clock).apply([batch(TENANT, plant.temps(device, (0, 96.0)))])
    successor = Evaluation(plant.store.unit_of_work, plant.clock)
    successor.apply([batch(TENANT, plant.temps(device, (61, 96.0)))])
    assert plant.alarms()[0]["severity"] == Severity.CRITICAL


def test_a_silent_device_raises_no_data_by_the_clock_and_clears_when_it_reports(
    plant: Plant, captured: CapturedEvents
) -> None:
    silent = {
        "name": "stopped reporting",
        "create": [{"severity": "warning", "trigger": {"kind": "no_data", "seconds": 60}}],
    }
    plant.rule(silent)
    device = plant.device()
    plant.apply(plant.temps(device, (0, 20.0)))
    plant.clock.advance(timedelta(seconds=59))
    plant.evaluation.tick()
    assert not plant.alarms()
    plant.clock.advance(timedelta(seconds=2))
    plant.evaluation.tick()
    (alarm,) = plant.alarms()
    assert (alarm["active"], alarm["severity"]) == (True, Severity.WARNING)
    plant.apply(plant.temps(device, (0, 20.0)))
    assert not plant.alarms()[0]["active"]
    assert alarm_events(captured) == [("alarm.raised", "warning"), ("alarm.cleared", "warning")]


def test_an_anomaly_raises_an_alarm_whose_event_carries_the_verdict_across_a_restart(
    plant: Plant, captured: CapturedEvents
) -> None:
    plant.rule(
        {
            "name": "spindle temperature odd",
            "create": [
                {
                    "severity": "minor",
                    "trigger": {"kind": "anomaly", "channel": "spindle_temp", "detector": {"warmup": 30}},
                }
            ],
            "clear": {"unmet_for_seconds": 5},
        }
    )
    device = plant.device()
    rng = random.Random(3)
    temps = [(second, rng.gauss(60.0, 0.5)) for second in range(60)]
    temps[45] = (45, 90.0)
    plant.apply(plant.temps(device, *temps[:20]))
    # A successor mid-warm-up resumes the detector the first one stored.
    successor = Evaluation(plant.store.unit_of_work, plant.clock)
    successor.apply([batch(TENANT, plant.temps(device, *temps[20:]))])

    (alarm,) = plant.alarms()
    assert (alarm["severity"], alarm["active"], alarm["cleared_by"]) == (Severity.MINOR, False, "rule")
    # Raised by the reading after the spike, which names the spike.
    assert alarm["started_at"] == plant.clock() + timedelta(seconds=46)
    assert alarm["cleared_at"] == plant.clock() + timedelta(seconds=52)
    verdict = alarm["raised_by"].pop("anomaly")
    assert alarm["raised_by"] == {"ts": plant.ms(45), "spindle_temp": 90.0}
    assert verdict["kind"] == "spike" and verdict["score"] > 4.5
    assert verdict["low"] < 60.0 < verdict["high"] < 90.0
    events = [orjson.loads(body) for _, body in captured.drain()]
    raised = [event["data"] for event in events if event["type"] == "alarm.raised"]
    assert [data["reading"] for data in raised] == [{**alarm["raised_by"], "anomaly": verdict}]
    assert [event["type"] for event in events if event["type"].startswith("alarm.")] == [
        "alarm.raised",
        "alarm.cleared",
    ]


def test_per_machine_thresholds_and_labels_choose_what_is_watched(plant: Plant) -> None:
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
    plant.rule(by_attribute)
    cool = plant.device({"line": "L1"}, {"max_temp": 70})
    hot = plant.device({"line": "L1"}, {"max_temp": 80})
    unlabelled = plant.device({"line": "L2"}, {"max_temp": 10})
    without = plant.device({"line": "L1"})
    samples = [plant.temps(d, (0, 75.0)) for d in (cool, hot, unlabelled, without)]
    plant.apply(*samples)
    assert [row["device_id"] for row in plant.alarms()] == [cool]


def test_an_alarm_a_person_cleared_is_raised_anew_only_once_unmet(plant: Plant) -> None:
    plant.rule(HYSTERESIS)
    device = plant.device()
    plant.apply(plant.temps(device, (0, 95.0)))
    first = plant.alarms()[0]["id"]
    Alarms(plant.store.unit_of_work, plant.clock).clear(TENANT, first, "key-1")
    plant.apply(plant.temps(device, (1, 96.0), (2, 95.0)))
    assert [row["active"] for row in plant.alarms()] == [False]
    plant.apply(plant.temps(device, (3, 70.0), (4, 95.0)))
    rows = plant.alarms()
    assert [(row["id"] == first, row["active"]) for row in rows] == [(True, False), (False, True)]
    assert rows[0]["cleared_by"] == "key-1"


def test_deleting_a_rule_clears_its_alarms_and_stops_its_evaluation(plant: Plant) -> None:
    rule_id = plant.rule(HYSTERESIS)
    device = plant.device()
    plant.apply(plant.temps(device, (0, 95.0)))
    Rules(plant.store.unit_of_work, plant.registry).delete(TENANT, rule_id, 1)
    assert [(row["active"], row["cleared_by"]) for row in plant.alarms()] == [(False, "rule")]
    plant.apply(plant.temps(device, (1, 70.0), (2, 99.0)))
    assert len(plant.alarms()) == 1


def test_readings_of_devices_not_known_yet_are_counted_and_evaluated_by_no_rule(plant: Plant) -> None:
    plant.rule(HYSTERESIS)
    plant.apply(plant.temps(str(uuid.uuid4()), (0, 99.0)))
    assert not plant.alarms()
