"""What analytics measured of the sellers' devices (capacity.measured), kept so that
capacity listings show buyers measured figures beside what their sellers claim."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection

from services.kit.events import Event
from services.marketplace.domain.capacity import WEEK, ZONE_HOURS_AHEAD, ZONE_HOURS_LEFT, zone_hours
from services.marketplace.queries import capacity as sql
from services.marketplace.usecases import Clock, UnitOfWorkFactory, utc_now

CAPACITY_EVENTS = ("capacity.measured",)


class MeasuredCapacities:
    def __init__(self, unit_of_work: UnitOfWorkFactory, clock: Clock = utc_now) -> None:
        self._unit_of_work = unit_of_work
        self._clock = clock

    def learn(self, event: Event) -> bool:
        """Keeps the device's newest measurement; False when the event was already handled."""
        with self._unit_of_work() as uow:
            if not uow.claim(event):
                return False
            if sql.keep_newest(uow.connection, _row(event), _hours(event)):
                self._keep_zone_ahead(uow.connection, event.data["zone"])
            uow.commit()
        return True

    def _keep_zone_ahead(self, connection: Connection, zone: str) -> None:
        """Extends the hours of the measurement's zone kept ahead, once few weeks remain,
        and forgets those past."""
        now = self._clock()
        covered = sql.zone_hours_end(connection, zone)
        if covered is not None and covered >= now + ZONE_HOURS_LEFT:
            return
        sql.add_zone_hours(connection, zone_hours(zone, max(covered or now, now), now + ZONE_HOURS_AHEAD))
        sql.forget_zone_hours(connection, zone, now - WEEK)


def _row(event: Event) -> dict[str, Any]:
    # The event's tenant is the device's: the seller whose listings may show the figures.
    data = event.data
    return {
        "device_id": data["device_id"],
        "tenant_id": event.tenant_id,
        "measured_at": data["measured_at"],
        "period_start": data["start"],
        "period_end": data["end"],
        "utilisation": data["utilisation"],
        "idle_hours_per_week": data["idle_hours_per_week"],
        "oee": data["oee"],
        "mtbf_seconds": data["mtbf_seconds"],
        "zone": data["zone"],
    }


def _hours(event: Event) -> list[dict[str, Any]]:
    return [
        {"weekday": hour["weekday"], "hour": hour["hour"], "idle_seconds": hour["idle_seconds"]}
        for hour in event.data["hours"]
    ]
