"""Machine performance tracked on the stream of readings, in the evaluator's flush.

Each device whose profile has a machine model has a tracker (domain/timeline.py) fed its
samples in time order. What they close (state segments, counted parts, failures and
restorations) is split into UTC quarter hours against the site's shift calendar and
added to the device's quarters, in the flush's transaction: a redelivered batch, whose
flush is skipped, adds nothing twice, and a killed evaluator's successor resumes from the
trackers committed last.

A reading older than the device's newest tracked one cannot be fed in order: it is
counted (`gantry_analytics_late_machine_readings_total`) and left out of the figures.
A model's new version starts its devices' trackers afresh.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from prometheus_client import Counter
from sqlalchemy import Connection

from services.analytics.domain.calendar import PlannedShift, ShiftCalendar
from services.analytics.domain.machine_models import MachineModel
from services.analytics.domain.performance import Inputs, bucket_inputs, machine_part
from services.analytics.domain.plant_settings import PlantSetting, SettingKind
from services.analytics.domain.site_calendars import calendar_from
from services.analytics.domain.timeline import LateReading, MachineConfig, MachineTracker, Timeline
from services.analytics.queries import performance as queries
from services.analytics.queries.directory import KnownDevice
from services.analytics.queries.plant_settings import settings_changed_since
from services.analytics.storage import QUARTER_INPUTS
from services.kit.batches import Scalar

LATE_READINGS = Counter(
    "gantry_analytics_late_machine_readings_total",
    "Readings older than their machine's newest tracked one, left out of its figures",
)
QUARTER = timedelta(minutes=15)
QUARTER_MS = 15 * 60_000
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

Sample = tuple[int, Mapping[str, Scalar]]


@dataclass(frozen=True)
class CompiledModel:
    version: int
    model: MachineModel
    config: MachineConfig


class PerformanceTracking:
    def __init__(self) -> None:
        self._models: dict[tuple[str, str], CompiledModel] = {}
        self._calendars: dict[tuple[str, str], ShiftCalendar] = {}
        self._trackers: dict[str, tuple[int, MachineTracker]] = {}
        self._revision = 0

    def refresh(self, connection: Connection) -> None:
        """Reads the machine models and site calendars changed since last read."""
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
        trackers = []
        # The devices of one site mostly cover the same quarters: one plan for them all.
        plans: dict[tuple[str, str, datetime, datetime], list[PlannedShift]] = {}
        for device_id, device_samples in modelled.items():
            device = devices[device_id]
            version, tracker = self._trackers[device_id]
            timeline = _fed(tracker, device_samples, device.attributes)
            quarters += self._quarter_rows(device, timeline, plans)
            trackers.append(_tracker_row(device, version, tracker, now))
        queries.add_quarters(connection, quarters)
        queries.save_trackers(connection, trackers)

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
            model = self._models[(device.tenant_id, device.profile_id)]
            held = self._trackers.get(device.id)
            if held is None and device.id in stored and stored[device.id][0] == model.version:
                held = (model.version, MachineTracker.from_bytes(model.config, stored[device.id][1]))
            if held is None or held[0] != model.version:
                held = (model.version, MachineTracker(model.config))
            self._trackers[device.id] = held

    def _quarter_rows(
        self,
        device: KnownDevice,
        timeline: Timeline,
        plans: dict[tuple[str, str, datetime, datetime], list[PlannedShift]],
    ) -> list[dict[str, Any]]:
        instants = _instants(timeline)
        if not instants:
            return []
        # A count at a quarter's start belongs to the quarter before it: one more each side.
        first = _quarter_of(min(instants)) - QUARTER
        boundaries = [first + QUARTER * i for i in range((_quarter_of(max(instants)) - first) // QUARTER + 2)]
        key = (device.tenant_id, device.site, boundaries[0], boundaries[-1])
        plan = plans.get(key)
        if plan is None:
            calendar = self._calendars.get((device.tenant_id, device.site))
            plan = plans[key] = calendar.planned(boundaries[0], boundaries[-1]) if calendar else []
        pru = self._models[(device.tenant_id, device.profile_id)].model.ideal_cycle_seconds(device.attributes)
        rows = []
        for start, inputs in zip(boundaries, bucket_inputs(boundaries, plan, timeline, pru), strict=False):
            part = machine_part(inputs)
            if part != Inputs():
                rows.append(_quarter_row(device, start, part))
        return rows


def _fed(tracker: MachineTracker, samples: list[Sample], attributes: Mapping[str, Any]) -> Timeline:
    timeline = Timeline()
    for ts_ms, values in sorted(samples, key=lambda sample: sample[0]):
        try:
            tracker.feed(ts_ms, values, attributes, into=timeline)
        except LateReading:
            LATE_READINGS.inc()
    tracker.settle(timeline)
    return timeline


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


def _tracker_row(device: KnownDevice, version: int, tracker: MachineTracker, now: datetime) -> dict[str, Any]:
    return {
        "device_id": device.id,
        "tenant_id": device.tenant_id,
        "model_version": version,
        "state": tracker.to_bytes(),
        "updated_at": now,
    }
