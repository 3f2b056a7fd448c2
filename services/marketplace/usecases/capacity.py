"""What analytics measured of the sellers' devices (capacity.measured), kept so that
capacity listings show buyers measured figures beside what their sellers claim."""

from __future__ import annotations

from typing import Any

from services.kit.events import Event
from services.marketplace.queries import capacity as sql
from services.marketplace.usecases import UnitOfWorkFactory

CAPACITY_EVENTS = ("capacity.measured",)


class MeasuredCapacities:
    def __init__(self, unit_of_work: UnitOfWorkFactory) -> None:
        self._unit_of_work = unit_of_work

    def learn(self, event: Event) -> bool:
        """Keeps the device's newest measurement; False when the event was already handled."""
        with self._unit_of_work() as uow:
            if not uow.claim(event):
                return False
            sql.keep_newest(uow.connection, _row(event))
            uow.commit()
        return True


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
    }
