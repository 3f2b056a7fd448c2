"""analytics-evaluator killed mid-stream (SIGKILL, twice) and started again, and the stream
shared by evaluators of partitions of the devices: every batch evaluated once, the progress
of DURATION triggers kept, and the alarms, their events, the readings counted and the
machines' performance by quarter hour exactly those of one evaluator that never stopped."""

from __future__ import annotations

import math
import os
import signal
import subprocess
import sys
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any

import pika
import pytest
from sqlalchemy import func, select

from services.analytics import storage
from services.analytics.bus import READINGS
from services.analytics.partitions import Partition
from services.analytics.usecases.evaluation import Evaluation
from services.analytics.usecases.plant_settings import PlantSettings
from services.analytics.usecases.rules import Rules
from services.kit.batches import AcceptedBatch
from services.kit.bus import ConfirmingPublisher, Topology, WorkMessage
from services.kit.store import Store
from tests.support.analytics import ProfileRegistry, above, analytics_store, batch, below, teach_device
from tests.support.backends import AMQP_URL, bus_namespace, postgres_database
from tests.support.platform import ROOT, free_port
from tests.support.waiting import eventually

TENANT = str(uuid.uuid4())
DEVICES = [str(uuid.uuid4()) for _ in range(10)]
BATCHES = 600
SAMPLES_PER_BATCH = 5
START_MS = 1_800_000_000_000
RULES = [
    {
        "name": "spindle overheating",
        "create": [
            {
                "severity": "critical",
                "trigger": {"kind": "duration", "seconds": 20, "condition": above("spindle_temp", 95)},
            },
            {"severity": "major", "trigger": {"kind": "simple", "condition": above("spindle_temp", 90)}},
        ],
        "clear": {"trigger": {"kind": "simple", "condition": below("spindle_temp", 80)}},
    },
    {
        "name": "spindle stalling",
        "create": [
            {
                "severity": "minor",
                "trigger": {"kind": "repeating", "count": 4, "condition": below("spindle_rpm", 100)},
            }
        ],
        "clear": {"unmet_for_seconds": 20},
    },
]
# Producing while the spindle turns fast, faulted when it runs hot; the rpm channel doubles
# as a part counter (its falls are resets), so that counts, failures and restorations all
# cross the kills.
MACHINE_MODEL = {
    "states": {
        "conditions": [
            {"category": "fault", "condition": above("spindle_temp", 97)},
            {"category": "producing", "condition": above("spindle_rpm", 300)},
        ],
        "default": "idle",
    },
    "produced": {"channel": "spindle_rpm"},
    "ideal_cycle_seconds": 2,
}
SITE = "plant"
# The stream's 50 minutes (from 08:00 UTC, 09:00 in Berlin) lie in the day shift.
DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
CALENDAR = {
    "zone": "Europe/Berlin",
    "week": {day: [{"name": "day", "start": "06:00", "end": "18:00"}] for day in DAYS},
}


def temperature(device: int, second: int) -> float:
    """Slow waves through the thresholds, a different phase per device."""
    return 85 + 14 * math.sin((second + 17 * device) / 23)


def batches() -> list[AcceptedBatch]:
    """Each batch: every device's next seconds, in time order."""
    made = []
    for index in range(BATCHES):
        seconds = range(index * SAMPLES_PER_BATCH, (index + 1) * SAMPLES_PER_BATCH)
        devices = [
            (
                device,
                [
                    (
                        START_MS + 1000 * s,
                        {"spindle_temp": temperature(d, s), "spindle_rpm": (s * 37 + d) % 700},
                    )
                    for s in seconds
                ],
            )
            for d, device in enumerate(DEVICES)
        ]
        made.append(batch(TENANT, *devices))
    return made


def prepared(store: Store) -> None:
    registry = ProfileRegistry()
    profile = registry.profile(TENANT)
    for rule in RULES:
        Rules(store.unit_of_work, registry).create(TENANT, profile, rule)
    settings = PlantSettings(store.unit_of_work, registry)
    settings.put_machine_model(TENANT, profile, MACHINE_MODEL, 0)
    settings.put_site_calendar(TENANT, SITE, CALENDAR, 0)
    for device in DEVICES:
        teach_device(store, TENANT, profile, device_id=device, site=SITE)


def outcome(store: Store) -> tuple[list[tuple[Any, ...]], Counter[str], list[tuple[Any, ...]]]:
    """The alarms (without their ids), the count of events of each type, and the
    machines' quarter hours."""
    with store.engine.connect() as connection:
        alarms = connection.execute(
            select(
                storage.alarms.c.device_id,
                storage.alarms.c.name,
                storage.alarms.c.started_at,
                storage.alarms.c.cleared_at,
                storage.alarms.c.severity,
                storage.alarms.c.severity_history,
            ).order_by(storage.alarms.c.device_id, storage.alarms.c.started_at)
        ).all()
        events = Counter(connection.execute(select(storage.metadata.tables["outbox"].c.type)).scalars())
        events["readings counted"] = connection.execute(
            select(func.sum(storage.readings_per_minute.c.accepted))
        ).scalar_one()
        quarters = storage.performance_quarters
        performance = connection.execute(
            select(quarters).order_by(quarters.c.device_id, quarters.c.start)
        ).all()
    return [tuple(row) for row in alarms], events, [tuple(row) for row in performance]


def applied(store: Store) -> int:
    with store.engine.connect() as connection:
        return connection.execute(select(func.count()).select_from(storage.processed_batches)).scalar_one()


@pytest.fixture
def topology() -> Iterator[Topology]:
    with bus_namespace([READINGS.name]) as names:
        yield names


def start_evaluator(env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "services.analytics.evaluator"],
        cwd=ROOT,
        env={**env, "GANTRY_METRICS_PORT": str(free_port())},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def test_a_killed_evaluator_resumes_exactly_where_it_was(topology: Topology) -> None:
    stream = batches()
    with ExitStack() as stack:
        killed_url, reference_url = (stack.enter_context(postgres_database()) for _ in range(2))
        publisher = ConfirmingPublisher(AMQP_URL, topology)
        stack.callback(publisher.close)
        killed = stack.enter_context(analytics_store(killed_url, publisher))
        reference = stack.enter_context(analytics_store(reference_url, lambda messages: None))
        for store in (killed, reference):
            prepared(store)
        Evaluation(reference.unit_of_work).apply(stream)

        env = {
            **os.environ,
            "PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'generated'}",
            "GANTRY_AMQP_URL": AMQP_URL,
            "GANTRY_BUS_NAMESPACE": topology.namespace,
            "GANTRY_ANALYTICS_DATABASE_URL": killed_url,
            # One batch a flush: many commits, so that the kills land between and inside them.
            "GANTRY_ANALYTICS_FLUSH_READINGS": "1",
        }
        connection = pika.BlockingConnection(pika.URLParameters(AMQP_URL))
        topology.declare(connection.channel())
        topology.declare_consumer_queue(connection.channel(), READINGS)
        connection.close()
        for item in stream:
            publisher.send(WorkMessage("readings", item.id, item.encode(), "test"))
        for kill_at in (BATCHES // 6, BATCHES // 2):
            evaluator = start_evaluator(env)
            eventually(lambda at=kill_at: applied(killed) >= at, 60, f"{kill_at} batches applied")
            evaluator.send_signal(signal.SIGKILL)
            evaluator.wait(10)
            assert applied(killed) < BATCHES, "the evaluator finished before it was killed"
        evaluator = start_evaluator(env)
        try:
            eventually(lambda: applied(killed) == BATCHES, 120, "every batch applied")
        finally:
            evaluator.send_signal(signal.SIGTERM)
            assert evaluator.wait(20) == 0

        alarms, events, performance = outcome(killed)
        expected_alarms, expected_events, expected_performance = outcome(reference)
        assert alarms == expected_alarms
        assert events == expected_events
        assert events["alarm.raised"] >= 10 and events["alarm.severity_changed"] >= 10
        assert performance == expected_performance
        failures, parts = (storage.performance_quarters.c.keys().index(name) for name in ("failures", "pq"))
        assert sum(row[failures] for row in performance) >= 10 and sum(row[parts] for row in performance) > 0


def test_evaluators_of_partitions_together_do_what_one_evaluator_does() -> None:
    stream = batches()
    with ExitStack() as stack:
        shared_url, reference_url = (stack.enter_context(postgres_database()) for _ in range(2))
        shared = stack.enter_context(analytics_store(shared_url, lambda messages: None))
        reference = stack.enter_context(analytics_store(reference_url, lambda messages: None))
        for store in (shared, reference):
            prepared(store)
        Evaluation(reference.unit_of_work).apply(stream)
        partitions = [Evaluation(shared.unit_of_work, partition=Partition(index, 2)) for index in range(2)]
        for start in range(0, BATCHES, 50):
            for evaluation in partitions:
                evaluation.apply(stream[start : start + 50])
        # A batch delivered again to a partition has no second effect.
        partitions[1].apply(stream[:50])

        assert outcome(shared) == outcome(reference)
        assert applied(shared) == 2 * BATCHES
        owned = [sum(Partition(index, 2).owns(device) for device in DEVICES) for index in range(2)]
        assert sorted(owned) != [0, len(DEVICES)], "one partition holds every device"
