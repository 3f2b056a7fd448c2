"""Machine performance tracked on the stream of readings, in the evaluator's flush.

Each device whose profile has a machine model has a tracker (domain/timeline.py) fed its
samples in time order. What they close (state segments, counted parts, failures and
restorations) is split into UTC quarter hours against the site's shift calendar and
added to the device's quarters, in the flush's transaction: a redelivered batch, whose
flush is skipped, adds nothing twice, and a killed evaluator's successor resumes from the
trackers committed last.

Each tracker logs the readings it takes (domain/machine_log.py). A reading older than
its device's newest tracked one is put in its place by replaying the log from before it,
and the quarters it touches gain the difference; one older than the log's oldest record
(kept `REMEMBER_MACHINE_LOG`) is left out. Both are counted
(`gantry_analytics_late_machine_readings_total`). A model's new version starts its
devices' trackers, and their logs, afresh.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from prometheus_client import Counter
from sqlalchemy import Connection

from services.analytics.domain.calendar import PlannedShift, ShiftCalendar
from services.analytics.domain.machine_log import RecordedMachine, base_of, recompute
from services.analytics.domain.machine_models import MachineModel
from services.analytics.domain.performance import Inputs, bucket_inputs, machine_part
from services.analytics.domain.plant_settings import PlantSetting, SettingKind
from services.analytics.domain.site_calendars import calendar_from
from services.analytics.domain.timeline import LateReading, MachineConfig, MachineTracker, Timeline
from services.analytics.queries import machine_log as log
from services.analytics.queries import performance as queries
from services.analytics.queries.directory import KnownDevice
from services.analytics.queries.plant_settings import REVISION as SETTINGS_REVISION
from services.analytics.queries.plant_settings import settings_changed_since
from services.analytics.storage import QUARTER_INPUTS
from services.kit.batches import Scalar

LATE_READINGS = Counter(
    "gantry_analytics_late_machine_readings_total",
    "Readings older than their machine's newest tracked one: recomputed, or too late and left out",
    ["outcome"],
)
REMEMBER_MACHINE_LOG = timedelta(hours=48)
QUARTER = timedelta(minutes=15)
QUARTER_MS = 15 * 60_000
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

Sample = tuple[int, Mapping[str, Scalar]]
Plans = dict[tuple[str, str, datetime, datetime], list[PlannedShift]]


@dataclass(frozen=True)
class CompiledModel:
    version: int
    model: MachineModel
    config: MachineConfig


class PerformanceTracking:
    def __init__(self) -> None:
        self._models: dict[tuple[str, str], CompiledModel] = {}
        self._calendars: dict[tuple[str, str], ShiftCalendar] = {}
        self._trackers: dict[str, tuple[int, RecordedMachine]] = {}
        self._revision = 0

    def refresh(self, connection: Connection, counters: Mapping[str, int]) -> None:
        """Reads the machine models and site calendars changed since last read, if the
        `counters` of `revisions.current_revisions` say any was."""
        if counters.get(SETTINGS_REVISION, 0) <= self._revision:
            return
        settings, self._revision = settings_changed_since(connection, self._revision)
        for setting in settings:
            self._learn(setting)

    def forget_trackers(self) -> None:
        """Drops the trackers held in memory: after a failed flush they may hold changes
        that never committed, and are read again."""
        self._trackers.clear()

    def track(
        self,
        connection: Connection,
        devices: Mapping[str, KnownDevice],
        samples: Mapping[str, list[Sample]],
        now: datetime,
    ) -> None:
        """Feeds each modelled device its samples (in time order) and adds what they close
        to its quarters."""
        modelled = {d: s for d, s in samples.items() if d in devices and self._model_of(devices[d])}
        if not modelled:
            return
        self._load(connection, [devices[d] for d in modelled])
        quarters: list[dict[str, Any]] = []
        records = []
        late: dict[str, list[Sample]] = {}
        # The devices of one site mostly cover the same quarters: one plan for them all.
        plans: Plans = {}
        for device_id, device_samples in modelled.items():
            device = devices[device_id]
            machine = self._trackers[device_id][1]
            timeline = _fed(machine, device_samples, device.attributes, late.setdefault(device_id, []))
            quarters += _rows(device, self._quarter_parts(device, timeline, plans))
            records += [(device_id, seq, record) for seq, record in machine.take_closed()]
        queries.add_quarters(connection, quarters)
        log.write_records(connection, records)
        recomputed = [self._recomputed(connection, devices[d], s, plans) for d, s in late.items() if s]
        queries.add_quarters(connection, [row for rows in recomputed for row in rows])
        queries.save_trackers(connection, [self._tracker_row(devices[d], now) for d in modelled])

    def model_of(self, tenant_id: str, profile_id: str) -> CompiledModel | None:
        return self._models.get((tenant_id, profile_id))

    def calendar_of(self, tenant_id: str, site: str) -> ShiftCalendar | None:
        return self._calendars.get((tenant_id, site))

    def _model_of(self, device: KnownDevice) -> CompiledModel | None:
        return self.model_of(device.tenant_id, device.profile_id)

    def _learn(self, setting: PlantSetting) -> None:
        key = (setting.tenant_id, setting.key)
        if setting.kind is SettingKind.MACHINE_MODEL:
            if setting.deleted:
                self._models.pop(key, None)
            else:
                model = MachineModel(setting.definition)
                self._models[key] = CompiledModel(setting.version, model, model.config())
        elif setting.deleted:
            self._calendars.pop(key, None)
        else:
            self._calendars[key] = calendar_from(setting.definition)

    def _load(self, connection: Connection, devices: Sequence[KnownDevice]) -> None:
        """Puts each device's tracker in memory: as committed, or a fresh one when it
        follows another version of its model, or none."""
        missing = [d.id for d in devices if d.id not in self._trackers]
        stored = queries.load_trackers(connection, missing) if missing else {}
        for device in devices:
            self._trackers[device.id] = self._held(connection, device, stored)

    def _held(
        self, connection: Connection, device: KnownDevice, stored: Mapping[str, tuple[int, bytes]]
    ) -> tuple[int, RecordedMachine]:
        model = self._models[(device.tenant_id, device.profile_id)]
        held = self._trackers.get(device.id)
        if held is not None and held[0] == model.version:
            return held
        if held is None and device.id in stored and stored[device.id][0] == model.version:
            return model.version, RecordedMachine.from_bytes(model.config, stored[device.id][1])
        if held is not None or device.id in stored:
            # Another version's log cannot be replayed with this one's states and counters.
            log.drop_records(connection, device.id)
        return model.version, RecordedMachine(MachineTracker(model.config))

    def _recomputed(
        self, connection: Connection, device: KnownDevice, late: list[Sample], plans: Plans
    ) -> list[dict[str, Any]]:
        """Puts a device's late samples in their places: the rows that add to its quarters
        the difference they make."""
        version, machine = self._trackers[device.id]
        earliest = min(ts_ms for ts_ms, _ in late)
        base_seq, records = log.records_reaching(connection, device.id, earliest)
        numbered = [(base_seq + i, record) for i, record in enumerate(records)]
        open_record = machine.open_record()
        if open_record is not None:
            numbered.append((machine.seq, open_record))
        base = base_of([record for _, record in numbered], earliest)
        if base is None:
            LATE_READINGS.labels("too_late").inc(len(late))
            return []
        LATE_READINGS.labels("recomputed").inc(len(late))
        base_seq = numbered[base][0]
        model = self._models[(device.tenant_id, device.profile_id)]
        redone = recompute(model.config, base_seq, [r for _, r in numbered[base:]], late, device.attributes)
        log.drop_records(connection, device.id, base_seq)
        log.write_records(connection, [(device.id, seq, r) for seq, r in redone.machine.take_closed()])
        self._trackers[device.id] = (version, redone.machine)
        before = self._quarter_parts(device, redone.before, plans)
        after = self._quarter_parts(device, redone.after, plans)
        zero = Inputs()
        return _rows(
            device, {q: after.get(q, zero) - before.get(q, zero) for q in before.keys() | after.keys()}
        )

    def _tracker_row(self, device: KnownDevice, now: datetime) -> dict[str, Any]:
        version, machine = self._trackers[device.id]
        return {
            "device_id": device.id,
            "tenant_id": device.tenant_id,
            "model_version": version,
            "state": machine.to_bytes(),
            "updated_at": now,
            "changes": 1,
        }

    def _quarter_parts(self, device: KnownDevice, timeline: Timeline, plans: Plans) -> dict[datetime, Inputs]:
        """What the machine did in each UTC quarter hour the timeline touches."""
        instants = _instants(timeline)
        if not instants:
            return {}
        # A count at a quarter's start belongs to the quarter before it: one more each side.
        first = _quarter_of(min(instants)) - QUARTER
        boundaries = [first + QUARTER * i for i in range((_quarter_of(max(instants)) - first) // QUARTER + 2)]
        key = (device.tenant_id, device.site, boundaries[0], boundaries[-1])
        plan = plans.get(key)
        if plan is None:
            calendar = self._calendars.get((device.tenant_id, device.site))
            plan = plans[key] = calendar.planned(boundaries[0], boundaries[-1]) if calendar else []
        pru = self._models[(device.tenant_id, device.profile_id)].model.ideal_cycle_seconds(device.attributes)
        inputs = bucket_inputs(boundaries, plan, timeline, pru)
        return {start: machine_part(part) for start, part in zip(boundaries, inputs, strict=False)}


def _fed(
    machine: RecordedMachine, samples: list[Sample], attributes: Mapping[str, Any], late: list[Sample]
) -> Timeline:
    """Feeds a machine its samples in time order; those older than its newest go `late`."""
    timeline = Timeline()
    for ts_ms, values in sorted(samples, key=lambda sample: sample[0]):
        try:
            machine.feed(ts_ms, values, attributes, into=timeline)
        except LateReading:
            late.append((ts_ms, values))
    machine.tracker.settle(timeline)
    return timeline


def _rows(device: KnownDevice, parts: Mapping[datetime, Inputs]) -> list[dict[str, Any]]:
    zero = Inputs()
    return [_quarter_row(device, start, part) for start, part in parts.items() if part != zero]


def _instants(timeline: Timeline) -> list[int]:
    instants = [s.start_ms for s in timeline.segments] + [s.end_ms for s in timeline.segments]
    instants += [c.ts_ms for c in timeline.counts] + timeline.failures
    return instants + [r.end_ms for r in timeline.restorations]


def _quarter_of(ts_ms: int) -> datetime:
    return EPOCH + timedelta(milliseconds=ts_ms - ts_ms % QUARTER_MS)


def _quarter_row(device: KnownDevice, start: datetime, part: Inputs) -> dict[str, Any]:
    return {
        "device_id": device.id,
        "start": start,
        "tenant_id": device.tenant_id,
        "site": device.site,
        **{name: getattr(part, name) for name in QUARTER_INPUTS},
    }
