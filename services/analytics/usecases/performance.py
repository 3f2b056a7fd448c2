"""Machine performance as people ask for it: ISO 22400-2 figures with their inputs, per
hour, shift, day or week, of one device, one site, or the tenant's whole fleet.

Periods are those of the site's zone (its calendar's; UTC for a site without one, and
for a fleet unless a zone is named). Each period sums what the machines did in its
quarter hours (see `performance_tracking.py`) and takes its planned time from the
calendar as it is now: a site without a calendar plans nothing, so its availability and
OEE are undefined while utilisation, MTBF and MTTR still are.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from zoneinfo import ZoneInfo

from sqlalchemy import Connection

from services.analytics.domain.business_periods import (
    CalendarError,
    load_zone,
    local_days,
    local_hours,
    local_weeks,
    utc_range,
)
from services.analytics.domain.calendar import ShiftCalendar
from services.analytics.domain.performance import Figures, Inputs, planned_seconds, with_plan
from services.analytics.domain.plant_settings import SettingKind
from services.analytics.domain.site_calendars import calendar_from
from services.analytics.queries import performance as queries
from services.analytics.queries.directory import find_known_device, modelled_devices_by_site, tenant_has_site
from services.analytics.queries.plant_settings import find_setting
from services.analytics.usecases import UnitOfWorkFactory
from services.kit.errors import FieldViolation, InvalidArgument, NotFound
from services.kit.validation import require_uuid

MAX_PERIODS = 10_000
UTC_ZONE = "UTC"


class Granularity(StrEnum):
    HOUR = "hour"
    SHIFT = "shift"
    DAY = "day"
    WEEK = "week"


@dataclass(frozen=True)
class Scope:
    """Whose machines: one device's, one site's, or else the tenant's fleet."""

    device_id: str | None = None
    site: str | None = None


@dataclass(frozen=True)
class Period:
    start: datetime
    end: datetime
    # The shift's name, for periods of SHIFT granularity.
    shift: str
    figures: Figures


class Performance:
    def __init__(self, unit_of_work: UnitOfWorkFactory) -> None:
        self._unit_of_work = unit_of_work

    def periods(
        self,
        tenant_id: str,
        scope: Scope,
        start: datetime,
        end: datetime,
        granularity: Granularity,
        zone: str = "",
    ) -> tuple[str, list[Period]]:
        """The zone the periods follow, and the figures of each period covering [start, end)."""
        tenant_id = require_uuid(tenant_id, "tenant_id")
        start, end = _checked_range(start, end)
        with self._unit_of_work(read_only=True) as uow:
            site = _site_of(uow.connection, tenant_id, scope)
            calendar = _calendar(uow.connection, tenant_id, site) if site is not None else None
            plans = _plans(uow.connection, tenant_id, scope, calendar)
            zone_name = calendar.zone if calendar else _zone(zone)
            spans = _spans(granularity, calendar, load_zone(zone_name), start, end)
            edges = sorted({instant for span in spans for instant in span[:2]})
            machine = queries.summed_quarters(uow.connection, tenant_id, edges, scope.device_id, scope.site)
        return zone_name, _periods(spans, edges, machine, plans)


def _checked_range(start: datetime, end: datetime) -> tuple[datetime, datetime]:
    try:
        start, end = utc_range(start, end)
    except CalendarError as error:
        raise InvalidArgument([FieldViolation(error.field, error.message)]) from error
    if end <= start:
        raise InvalidArgument([FieldViolation("end", "must be after start")])
    return start, end


def _zone(name: str) -> str:
    try:
        return load_zone(name or UTC_ZONE).key
    except CalendarError as error:
        raise InvalidArgument([FieldViolation(error.field, error.message)]) from error


def _site_of(connection: Connection, tenant_id: str, scope: Scope) -> str | None:
    """The site whose calendar plans the scope; NotFound for a device or site the tenant
    does not have, as for one that does not exist."""
    if scope.device_id is not None:
        device = find_known_device(connection, tenant_id, require_uuid(scope.device_id, "device_id"))
        if device is None:
            raise NotFound("device not found")
        return device.site
    if scope.site is not None:
        if not tenant_has_site(connection, tenant_id, scope.site) and not _calendar(
            connection, tenant_id, scope.site
        ):
            raise NotFound("site not found")
        return scope.site
    return None


def _calendar(connection: Connection, tenant_id: str, site: str) -> ShiftCalendar | None:
    setting = find_setting(connection, SettingKind.SITE_CALENDAR, tenant_id, site)
    return calendar_from(setting.definition) if setting else None


def _plans(
    connection: Connection, tenant_id: str, scope: Scope, device_calendar: ShiftCalendar | None
) -> list[tuple[int, ShiftCalendar]]:
    """Each site's calendar in the scope, with how many machines it plans: PBT is per
    machine. A device counts once its profile has a machine model, until it is
    decommissioned, whether it reports or not; a device's own site's calendar is read
    already."""
    if scope.device_id is not None:
        return [(1, device_calendar)] if device_calendar else []
    sites = modelled_devices_by_site(connection, tenant_id, scope.site)
    plans = []
    for site, machines in sites.items():
        calendar = _calendar(connection, tenant_id, site)
        if calendar is not None:
            plans.append((machines, calendar))
    return plans


def _spans(
    granularity: Granularity, calendar: ShiftCalendar | None, zone: ZoneInfo, start: datetime, end: datetime
) -> list[tuple[datetime, datetime, str]]:
    if granularity is Granularity.SHIFT:
        if calendar is None:
            raise InvalidArgument([FieldViolation("granularity", "shifts need the site's calendar")])
        spans = [(s.start, s.end, s.name) for s in calendar.planned(start, end)]
    else:
        bounds = {Granularity.HOUR: local_hours, Granularity.DAY: local_days, Granularity.WEEK: local_weeks}
        edges = bounds[granularity](zone, start, end)
        spans = [(lo, hi, "") for lo, hi in itertools.pairwise(edges)]
    if len(spans) > MAX_PERIODS:
        raise InvalidArgument([FieldViolation("end", f"at most {MAX_PERIODS} periods at a time")])
    return spans


def _periods(
    spans: list[tuple[datetime, datetime, str]],
    edges: list[datetime],
    machine: list[Inputs],
    plans: list[tuple[int, ShiftCalendar]],
) -> list[Period]:
    """Each span's figures: the machines' quarters summed over it, planned by each site's
    calendar for as many machines as the site has."""
    position = {instant: index for index, instant in enumerate(edges)}
    bounds = [(start, end) for start, end, _ in spans]
    planned = [0.0] * len(spans)
    for machines, calendar in plans:
        plan = calendar.planned(edges[0], edges[-1])
        planned = [
            total + machines * seconds
            for total, seconds in zip(planned, planned_seconds(plan, bounds), strict=True)
        ]
    periods = []
    for (start, end, shift), plan_seconds in zip(spans, planned, strict=True):
        first, *rest = machine[position[start] : position[end]]
        summed = sum(rest, first)
        periods.append(Period(start, end, shift, Figures.of(with_plan(summed, plan_seconds))))
    return periods
