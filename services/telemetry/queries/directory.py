"""Reads and writes of telemetry's directory: its copy of the registry's devices and
profile versions."""

from __future__ import annotations

from sqlalchemy import Connection, select, update

from services.kit.db import insert_ignoring_duplicates
from services.telemetry.domain import KnownDevice
from services.telemetry.rules import ChannelRule, DeviceRules
from services.telemetry.storage import known_devices, known_profile_versions


def add_known_device(connection: Connection, device: KnownDevice) -> None:
    insert_ignoring_duplicates(connection, known_devices, [vars(device)])


def update_known_device(
    connection: Connection, device_id: str, version: int, aspect: str, **changes: object
) -> bool:
    """Sets the `aspect` ("state" or "profile") of a device as of the registry's `version`,
    unless a newer one is known; False when the device is unknown."""
    if connection.execute(select(known_devices.c.id).where(known_devices.c.id == device_id)).first() is None:
        return False
    as_of = known_devices.c[f"{aspect}_as_of"]
    connection.execute(
        update(known_devices)
        .where(known_devices.c.id == device_id, as_of < version)
        .values({as_of: version, **{known_devices.c[k]: v for k, v in changes.items()}})
    )
    return True


def add_profile_version(
    connection: Connection, tenant_id: str, profile_id: str, version: int, channels: list
) -> None:
    row = {"profile_id": profile_id, "version": version, "tenant_id": tenant_id, "channels": channels}
    insert_ignoring_duplicates(connection, known_profile_versions, [row])


def find_known_device(connection: Connection, tenant_id: str, device_id: str) -> KnownDevice | None:
    query = select(known_devices).where(
        known_devices.c.id == device_id, known_devices.c.tenant_id == tenant_id
    )
    row = connection.execute(query).mappings().first()
    return KnownDevice(**row) if row else None


def load_device_rules(connection: Connection, device_id: str) -> DeviceRules | None:
    """The device with the channels of its profile version, or None when telemetry does
    not know both yet."""
    device, profile = known_devices, known_profile_versions
    query = select(
        device.c.tenant_id, device.c.state, device.c.state_as_of, device.c.profile_as_of, profile.c.channels
    ).join(
        profile,
        (profile.c.profile_id == device.c.profile_id) & (profile.c.version == device.c.profile_version),
    )
    row = connection.execute(query.where(device.c.id == device_id)).first()
    if row is None:
        return None
    channels = {channel["key"]: ChannelRule.from_profile(channel) for channel in row.channels}
    version = max(row.state_as_of, row.profile_as_of)
    return DeviceRules(device_id, row.tenant_id, row.state, version, channels)
