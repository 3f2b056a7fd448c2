"""Alarm rules evaluated on the stream of accepted readings (analytics-evaluator).

One process consumes the stream (its queue has a single active consumer), so the state
of every device it evaluates lives in its memory between flushes, and in the database:
each flush commits, in one transaction, the batches it applied, the devices' new
states, the alarms their transitions raised, changed or cleared, and the events saying
so. A batch delivered again finds itself recorded and has no second effect; a process
killed mid-flush loses nothing, as its successor reads the states committed last.

Rules and the directory of devices are read from the database when they change (their
revisions), so a rule takes effect at the next flush after it is written. Machine
performance is tracked in the same flush (see `performance_tracking.py`).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

from prometheus_client import Counter
from sqlalchemy import Connection

from services.analytics.domain.evaluation import CompiledRule, apply_reading, apply_tick, next_deadline
from services.analytics.domain.rules import AlarmRule
from services.analytics.domain.states import DeviceState
from services.analytics.partitions import WHOLE, Partition
from services.analytics.queries import evaluation as queries
from services.analytics.queries import machine_log
from services.analytics.queries.directory import REVISION as DEVICES_REVISION
from services.analytics.queries.directory import KnownDevice, devices_changed_since
from services.analytics.queries.revisions import current_revisions
from services.analytics.queries.rules import REVISION as RULES_REVISION
from services.analytics.queries.rules import rules_changed_since
from services.analytics.settings import online_window
from services.analytics.usecases import Clock, UnitOfWorkFactory, utc_now
from services.analytics.usecases.alarm_book import AlarmBook
from services.analytics.usecases.performance_tracking import REMEMBER_MACHINE_LOG, PerformanceTracking
from services.kit.batches import AcceptedBatch, Scalar, utc_of
from services.kit.db import UnitOfWork, pipelined

log = logging.getLogger(__name__)

UNKNOWN_DEVICE_READINGS = Counter(
    "gantry_analytics_readings_of_unknown_devices_total",
    "Readings of devices analytics's directory does not know yet, evaluated by no rule",
)
# How long a batch's id is remembered: far longer than any redelivery takes.
REMEMBER_BATCHES = timedelta(days=1)
REMEMBER_COUNTS = timedelta(days=2)
# A device's last reading time is written when it has moved by this part of the window
# in which the overview counts the device online.
ACTIVITY_STEPS_PER_WINDOW = 30

Sample = tuple[int, Mapping[str, Scalar]]


class Evaluation:
    def __init__(
        self, unit_of_work: UnitOfWorkFactory, clock: Clock = utc_now, partition: Partition = WHOLE
    ) -> None:
        self._unit_of_work = unit_of_work
        self._clock = clock
        self._partition = partition
        self._rules: dict[str, CompiledRule] = {}
        self._devices: dict[str, KnownDevice] = {}
        self._watching: dict[str, list[CompiledRule]] = {}
        self._states: dict[str, DeviceState] = {}
        self._rules_revision = 0
        self._devices_revision = 0
        self._performance = PerformanceTracking()
        self._activity = Activity(online_window() / ACTIVITY_STEPS_PER_WINDOW)

    def apply(self, batches: Sequence[AcceptedBatch]) -> None:
        """Evaluates the readings of the batches not applied before, and commits."""
        now = self._clock()
        batches = [batch.in_rows(self._partition.owns) for batch in batches]
        with self._guarded() as uow:
            connection = uow.connection
            self._refresh(connection)
            claim = self._partition.claim
            fresh = queries.claim_batches(connection, [claim(b.id) for b in batches], now)
            applied = [batch for batch in batches if claim(batch.id) in fresh]
            samples = _samples_by_device(applied, self._partition)
            self._load_states(connection, [d for d in samples if self._rules_of(d)])
            book = AlarmBook(self._rules)
            changed = [d for d, s in samples.items() if self._evaluate(book, d, s, now)]
            book.settle(uow)
            self._performance.track(connection, self._devices, samples, now)
            # The rest reads nothing: sent together with the commit, it costs one round
            # trip, where a round trip each would make every flush wait for the database
            # a dozen times, and far longer on a busy machine.
            with pipelined(connection):
                book.write(connection)
                self._save_states(connection, changed, now)
                queries.count_readings(connection, _counts(applied, self._partition, now))
                queries.record_activity(connection, self._activity.rows(self._devices, samples))
                uow.commit()

    def tick(self) -> None:
        """Evaluates NO_DATA triggers against the clock, for every device they watch."""
        now = self._clock()
        now_ms = _ms(now)
        with self._guarded() as uow:
            self._refresh(uow.connection)
            watched = [
                d
                for d in self._devices
                if self._partition.owns(d) and any(r.has_no_data for r in self._rules_of(d))
            ]
            self._load_states(uow.connection, watched)
            book = AlarmBook(self._rules)
            changed = []
            for device_id in watched:
                state = self._states.get(device_id)
                if state is None:
                    continue
                rules = self._rules_of(device_id)
                deadline = next_deadline(state, rules)
                if deadline is None or deadline > now_ms:
                    continue
                device = self._devices[device_id]
                transitions = apply_tick(state, rules, device.attributes, now_ms)
                for transition in transitions:
                    book.note(device, state, transition)
                if transitions:
                    changed.append(device_id)
            book.settle(uow)
            with pipelined(uow.connection):
                book.write(uow.connection)
                self._save_states(uow.connection, changed, now)
                uow.commit()

    def forget_old(self) -> None:
        """Drops records no redelivery or overview needs any more."""
        now = self._clock()
        with self._unit_of_work() as uow:
            queries.forget_batches(uow.connection, now - REMEMBER_BATCHES)
            queries.forget_counts(uow.connection, now - REMEMBER_COUNTS)
            machine_log.forget_records(uow.connection, _ms(now - REMEMBER_MACHINE_LOG))
            uow.commit()

    @contextmanager
    def _guarded(self) -> Iterator[UnitOfWork]:
        """A unit of work after which, if it fails, the states held in memory are dropped:
        they may hold changes that never committed, and are read again from the database."""
        try:
            with self._unit_of_work() as uow:
                yield uow
        except BaseException:
            self._states.clear()
            self._performance.forget_trackers()
            self._activity.forget()
            raise

    def _evaluate(self, book: AlarmBook, device_id: str, samples: list[Sample], now: datetime) -> bool:
        """Applies a device's samples in time order; whether its state changed."""
        device = self._devices.get(device_id)
        if device is None:
            UNKNOWN_DEVICE_READINGS.inc(sum(len(values) for _, values in samples))
            return False
        rules = self._rules_of(device_id)
        if not rules:
            return False
        state = self._states.setdefault(device_id, DeviceState())
        now_ms = _ms(now)
        samples.sort(key=lambda sample: sample[0])
        for ts_ms, values in samples:
            for transition in apply_reading(state, rules, device.attributes, ts_ms, values, now_ms):
                book.note(device, state, transition)
        return True

    def _rules_of(self, device_id: str) -> list[CompiledRule]:
        """The rules watching a device: those of its profile that select its labels."""
        watching = self._watching.get(device_id)
        if watching is None:
            device = self._devices.get(device_id)
            watching = [
                rule
                for rule in self._rules.values()
                if device is not None
                and rule.rule.profile_id == device.profile_id
                and rule.rule.tenant_id == device.tenant_id
                and rule.applies_to(device.labels)
            ]
            self._watching[device_id] = watching
        return watching

    def _refresh(self, connection: Connection) -> None:
        """Reads the rules and devices changed since last read."""
        counters = current_revisions(connection)
        rules: list[AlarmRule] = []
        devices: list[KnownDevice] = []
        if counters.get(RULES_REVISION, 0) > self._rules_revision:
            rules, self._rules_revision = rules_changed_since(connection, self._rules_revision)
        if counters.get(DEVICES_REVISION, 0) > self._devices_revision:
            devices, self._devices_revision = devices_changed_since(connection, self._devices_revision)
        for rule in rules:
            if rule.deleted:
                self._rules.pop(rule.id, None)
            else:
                self._rules[rule.id] = CompiledRule(rule)
        for device in devices:
            self._devices[device.id] = device
        if rules or devices:
            self._watching.clear()
        self._performance.refresh(connection, counters)

    def _load_states(self, connection: Connection, device_ids: Sequence[str]) -> None:
        missing = [device_id for device_id in device_ids if device_id not in self._states]
        if missing:
            for device_id, state in queries.load_states(connection, missing).items():
                self._states[device_id] = DeviceState.from_bytes(state)

    def _save_states(self, connection: Connection, device_ids: Sequence[str], now: datetime) -> None:
        rows = []
        for device_id in device_ids:
            state = self._states[device_id]
            # The states of deleted rules go with the device's next write.
            for rule_id in [r for r in state.rules if r not in self._rules]:
                del state.rules[rule_id]
            tenant_id = self._devices[device_id].tenant_id
            rows.append(
                {"device_id": device_id, "tenant_id": tenant_id, "state": state.to_bytes(), "updated_at": now}
            )
        queries.save_states(connection, rows)


class Activity:
    """The devices' last reading times as written, so that a device's is written again
    only once it has moved by `step`: the overview's connectivity needs no finer time,
    and a write per device per flush would cost every flush a statement of its size."""

    def __init__(self, step: timedelta) -> None:
        self._step_ms = int(step.total_seconds() * 1000)
        self._written: dict[str, int] = {}

    def rows(
        self, devices: Mapping[str, KnownDevice], samples: Mapping[str, list[Sample]]
    ) -> list[dict[str, Any]]:
        rows = []
        for device_id, found in samples.items():
            if device_id not in devices or not found:
                continue
            newest = max(ts for ts, _ in found)
            if newest - self._written.get(device_id, newest - self._step_ms) < self._step_ms:
                continue
            self._written[device_id] = newest
            rows.append(
                {
                    "device_id": device_id,
                    "tenant_id": devices[device_id].tenant_id,
                    "last_reading_at": utc_of(newest),
                }
            )
        return rows

    def forget(self) -> None:
        """After a failed flush, whose writes never committed."""
        self._written.clear()


def _samples_by_device(batches: Sequence[AcceptedBatch], partition: Partition) -> dict[str, list[Sample]]:
    samples: dict[str, list[Sample]] = defaultdict(list)
    for batch in batches:
        for device_id, device_samples in batch.devices:
            if partition.owns(device_id):
                samples[device_id].extend((ts_ms, values) for ts_ms, values in device_samples)
    return samples


def _counts(batches: Sequence[AcceptedBatch], partition: Partition, now: datetime) -> list[dict[str, Any]]:
    """The readings of the partition's devices, by tenant, in this minute."""
    minute = now.replace(second=0, microsecond=0)
    accepted: dict[str, int] = defaultdict(int)
    for batch in batches:
        for device_id, device_samples in batch.devices:
            if partition.owns(device_id):
                accepted[batch.tenant_id] += sum(len(values) for _, values in device_samples)
    return [
        {
            "tenant_id": tenant,
            "minute": minute,
            "counted_by": partition.index,
            "accepted": count,
            "rejected": 0,
        }
        for tenant, count in accepted.items()
        if count
    ]


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)
