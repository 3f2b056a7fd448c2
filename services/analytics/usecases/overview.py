"""A tenant's overview: its devices, its active alarms and the readings it sent."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from services.analytics.domain.rules import Severity
from services.analytics.queries import overview as queries
from services.analytics.queries.alarms import active_by_severity
from services.analytics.queries.evaluation import count_readings
from services.analytics.storage import REJECTIONS_COUNTER
from services.analytics.usecases import Clock, UnitOfWorkFactory, utc_now
from services.kit.events import Event
from services.kit.validation import require_uuid

HOUR = timedelta(hours=1)
DAY = timedelta(days=1)


@dataclass(frozen=True)
class Overview:
    devices_by_state: dict[str, int]
    devices_by_connectivity: dict[str, int]
    active_alarms_by_severity: dict[str, int]
    # (accepted, rejected)
    readings_last_hour: tuple[int, int]
    readings_last_day: tuple[int, int]


class Overviews:
    def __init__(
        self, unit_of_work: UnitOfWorkFactory, online_window: timedelta, clock: Clock = utc_now
    ) -> None:
        self._unit_of_work = unit_of_work
        self._online_window = online_window
        self._clock = clock

    def get(self, tenant_id: str) -> Overview:
        tenant_id = require_uuid(tenant_id, "tenant_id")
        now = self._clock()
        this_minute = now.replace(second=0, microsecond=0)
        with self._unit_of_work(read_only=True) as uow:
            connection = uow.connection
            alarms = active_by_severity(connection, tenant_id)
            return Overview(
                queries.devices_by_state(connection, tenant_id),
                queries.devices_by_connectivity(connection, tenant_id, now - self._online_window),
                {severity.name.lower(): alarms.get(severity, 0) for severity in Severity},
                queries.readings_since(connection, tenant_id, this_minute - HOUR),
                queries.readings_since(connection, tenant_id, this_minute - DAY),
            )


def count_rejected(unit_of_work: UnitOfWorkFactory, event: Event) -> bool:
    """Adds the readings ingest refused, as telemetry reports them, to the tenant's
    minute; False when the event was counted already."""
    with unit_of_work() as uow:
        if not uow.claim(event):
            return False
        row = {
            "tenant_id": event.tenant_id,
            "minute": event.data["minute"],
            "counted_by": REJECTIONS_COUNTER,
            "accepted": 0,
        }
        count_readings(uow.connection, [row | {"rejected": event.data["rejected"]}])
        uow.commit()
    return True
