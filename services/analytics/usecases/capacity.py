"""Capacity the telemetry proves: how a machine has really spent each hour of the week over
the last four weeks, measured by the platform rather than claimed by its owner.

For each hour of the week (Monday 00:00 to Sunday 23:00 in the site's zone), the average
over the weeks measured of the seconds the machine produced, stood idle (ready, inside or
outside its shifts) and was down (faulted); with the period's OEE and MTBF, and the
measurement period itself, so that a buyer knows what the figures rest on. Idle hours are
what a manufacturer can sell.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from services.analytics.domain.performance import Figures, Inputs
from services.analytics.usecases import Clock, UnitOfWorkFactory, utc_now
from services.analytics.usecases.performance import Granularity, Performance, Scope

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

    def measured(self, tenant_id: str, device_id: str) -> MeasuredCapacity:
        """The device's last four whole weeks of local hours, ending at the last whole hour."""
        end = self._clock().replace(minute=0, second=0, microsecond=0)
        start = end - timedelta(weeks=WEEKS)
        zone, periods = self._performance.periods(
            tenant_id, Scope(device_id=device_id), start, end, Granularity.HOUR
        )
        slots: dict[tuple[int, int], list[Inputs]] = defaultdict(list)
        total = Inputs()
        for period in periods:
            local = period.start.astimezone(ZoneInfo(zone))
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
