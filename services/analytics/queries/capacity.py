"""What each modelled device's capacity is measured from, and what it was last published
from (see `storage.capacity_publications`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, and_, select
from sqlalchemy.orm import aliased

from services.analytics.domain.plant_settings import SettingKind
from services.analytics.queries.directory import modelled
from services.analytics.storage import capacity_publications, known_devices, machine_trackers, plant_settings
from services.kit.bulk_rows import upsert_rows


@dataclass(frozen=True)
class Measurable:
    tenant_id: str
    device_id: str
    # What a measurement ending at the window's end would rest on, as one comparable text.
    measured_from: str
    # What the last publication rested on, or None if the device was never published.
    published_from: str | None

    @property
    def changed(self) -> bool:
        return self.measured_from != self.published_from


def measurable_devices(connection: Connection, window_end: datetime) -> list[Measurable]:
    """Every device with a machine model that is not decommissioned, with what its
    capacity measured up to `window_end` would rest on and what it was last published
    from."""
    calendar = aliased(plant_settings)
    tracker = machine_trackers
    published = capacity_publications
    # `modelled` joins the device's machine model: plant_settings' own columns are its.
    rests_on = (known_devices.c.revision, plant_settings.c.revision, calendar.c.revision, tracker.c.changes)
    query = (
        modelled(select(known_devices.c.tenant_id, known_devices.c.id, published.c.measured_from, *rests_on))
        .outerjoin(
            calendar,
            and_(
                calendar.c.tenant_id == known_devices.c.tenant_id,
                calendar.c.kind == SettingKind.SITE_CALENDAR.value,
                calendar.c.key == known_devices.c.site,
            ),
        )
        .outerjoin(tracker, tracker.c.device_id == known_devices.c.id)
        .outerjoin(published, published.c.device_id == known_devices.c.id)
        .order_by(known_devices.c.tenant_id, known_devices.c.id)
    )
    end = window_end.isoformat()
    return [
        Measurable(tenant_id, device_id, "|".join([end, *map(str, revisions)]), published_from)
        for tenant_id, device_id, published_from, *revisions in connection.execute(query)
    ]


def record_publication(connection: Connection, device: Measurable, published_at: datetime) -> None:
    row = {
        "device_id": device.device_id,
        "tenant_id": device.tenant_id,
        "measured_from": device.measured_from,
        "published_at": published_at,
    }
    upsert_rows(connection, capacity_publications, [row])
