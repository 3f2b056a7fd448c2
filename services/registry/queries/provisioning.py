"""Queries of device provisioning: profiles' settings and the devices provisioned."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, insert, select

from services.registry.domain_provisioning import ProfileProvisioning, ProvisionStrategy
from services.registry.storage import profile_provisioning, provisioned_devices


def _settings(row: Any) -> ProfileProvisioning:
    return ProfileProvisioning(**{**row._mapping, "strategy": ProvisionStrategy(row.strategy)})


def find_settings(connection: Connection, tenant_id: str, profile_id: str) -> ProfileProvisioning | None:
    query = select(profile_provisioning).where(
        profile_provisioning.c.profile_id == profile_id, profile_provisioning.c.tenant_id == tenant_id
    )
    row = connection.execute(query).first()
    return _settings(row) if row else None


def settings_of_key(connection: Connection, provision_key: str) -> ProfileProvisioning | None:
    """The settings a key names, whichever tenant's: for provisioning requests only."""
    query = select(profile_provisioning).where(profile_provisioning.c.provision_key == provision_key)
    row = connection.execute(query).first()
    return _settings(row) if row else None


def put_settings(connection: Connection, settings: ProfileProvisioning) -> None:
    connection.execute(
        delete(profile_provisioning).where(profile_provisioning.c.profile_id == settings.profile_id)
    )
    connection.execute(
        insert(profile_provisioning), [{**vars(settings), "strategy": settings.strategy.value}]
    )


def claim_device(connection: Connection, device_id: str, now: datetime) -> bool:
    """Marks a device provisioned; False when it was already (a pre-provisioned device
    provisions once)."""
    query = select(provisioned_devices.c.device_id).where(provisioned_devices.c.device_id == device_id)
    if connection.execute(query).first() is not None:
        return False
    connection.execute(insert(provisioned_devices), [{"device_id": device_id, "provisioned_at": now}])
    return True
