"""Capacity the telemetry proves: how a machine has really spent each hour of the week over
the last four weeks, measured by the platform rather than claimed by its owner.

For each hour of the week (Monday 00:00 to Sunday 23:00 in the site's zone), the average
over the weeks measured of the seconds the machine produced, stood idle (ready, inside or
outside its shifts) and was down (faulted); with the period's OEE and MTBF, and the
measurement period itself, so that a buyer knows what the figures rest on. Idle hours are
what a manufacturer can sell.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from services.analytics.domain.performance import Figures, Inputs
from services.analytics.queries.capacity import measurable_devices, record_publication
from services.analytics.usecases import Clock, UnitOfWorkFactory, utc_now
from services.analytics.usecases.performance import Granularity, Performance, Scope
from services.kit.events import Event, new_event
from services.kit.faults import is_transient

log = logging.getLogger(__name__)

WEEKS = 4
HOURS_OF_WEEK = 7 * 24


@dataclass(frozen=True)
class HourOfWeek:
    # 0 = Monday.
    weekday: int
    hour: int
    # Averages over the weeks measured, in seconds of the hour (a clock change's repeated
    # hour counts as one more week of that hour).
    producing: float
    idle: float
    down: float


@dataclass(frozen=True)
class MeasuredCapacity:
    device_id: str
    zone: str
    start: datetime
    end: datetime
    hours: list[HourOfWeek]
    figures: Figures

    @property
    def idle_hours_per_week(self) -> float:
        return sum(hour.idle for hour in self.hours) / 3600

    @property
    def utilisation(self) -> float:
        """The share of the week the machine produced."""
        return sum(hour.producing for hour in self.hours) / (HOURS_OF_WEEK * 3600)


class Capacity:
    def __init__(self, unit_of_work: UnitOfWorkFactory, clock: Clock = utc_now) -> None:
        self._performance = Performance(unit_of_work)
        self._clock = clock

    def window_end(self) -> datetime:
        """Where the measured weeks end: the last whole hour."""
        return self._clock().replace(minute=0, second=0, microsecond=0)

    def measured(self, tenant_id: str, device_id: str) -> MeasuredCapacity:
        """The device's last four whole weeks of local hours, ending at the last whole hour."""
        end = self.window_end()
        start = end - timedelta(weeks=WEEKS)
        zone, periods = self._performance.periods(
            tenant_id, Scope(device_id=device_id), start, end, Granularity.HOUR
        )
        slots: dict[tuple[int, int], list[Inputs]] = defaultdict(list)
        total = Inputs()
        local_zone = ZoneInfo(zone)
        for period in periods:
            local = period.start.astimezone(local_zone)
            slots[(local.weekday(), local.hour)].append(period.figures.inputs)
            total = total + period.figures.inputs
        hours = [
            _hour(weekday, hour, slots.get((weekday, hour), [])) for weekday in range(7) for hour in range(24)
        ]
        return MeasuredCapacity(device_id, zone, periods[0].start, periods[-1].end, hours, Figures.of(total))


def _hour(weekday: int, hour: int, measured: list[Inputs]) -> HourOfWeek:
    weeks = max(len(measured), 1)
    return HourOfWeek(
        weekday,
        hour,
        producing=sum(i.apt + i.unplanned_producing for i in measured) / weeks,
        idle=sum(i.adet + i.idle_outside_plan for i in measured) / weeks,
        down=sum(i.adot for i in measured) / weeks,
    )


def publish_measured_capacity(unit_of_work: UnitOfWorkFactory, clock: Clock = utc_now) -> int:
    """Emits a `capacity.measured` event for every device with a machine model that is not
    decommissioned and whose figures may have changed since its last one: the window moved
    to a new hour, or the device, its model, its site's calendar or its tracker changed.
    Each in a transaction of its own with the record of what it was measured from, so that
    a device that fails leaves the others published; returns how many were."""
    now = clock()
    capacity = Capacity(unit_of_work, lambda: now)
    with unit_of_work(read_only=True) as uow:
        devices = [d for d in measurable_devices(uow.connection, capacity.window_end()) if d.changed]
    published = 0
    for device in devices:
        try:
            event = capacity_measured(
                device.tenant_id, capacity.measured(device.tenant_id, device.device_id), now
            )
            with unit_of_work() as uow:
                uow.emit(event)
                record_publication(uow.connection, device, now)
                uow.commit()
        except Exception as error:
            if is_transient(error):
                # The database is failing: every device after this one would fail alike,
                # and the next run measures them all again.
                log.warning("capacity measurement stopped; the database failed", extra={"error": str(error)})
                return published
            log.exception(
                "capacity not measured", extra={"tenant_id": device.tenant_id, "device_id": device.device_id}
            )
            continue
        published += 1
    return published


def capacity_measured(tenant_id: str, measured: MeasuredCapacity, measured_at: datetime) -> Event:
    data: dict[str, Any] = {
        "device_id": measured.device_id,
        "zone": measured.zone,
        "start": measured.start.isoformat(),
        "end": measured.end.isoformat(),
        "hours": [
            {
                "weekday": hour.weekday,
                "hour": hour.hour,
                "producing_seconds": hour.producing,
                "idle_seconds": hour.idle,
                "down_seconds": hour.down,
            }
            for hour in measured.hours
        ],
        "utilisation": measured.utilisation,
        "idle_hours_per_week": measured.idle_hours_per_week,
        "oee": measured.figures.oee,
        "mtbf_seconds": measured.figures.mtbf,
        "measured_at": measured_at.isoformat(),
    }
    return new_event("capacity.measured", tenant_id, data)
