"""Queries of device profiles and their versions."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import Connection, and_, insert, select, tuple_, update

from services.registry.domain import Channel, DeviceProfile, ValueType
from services.registry.storage import profile_versions, profiles


def channel_row(channel: Channel) -> dict[str, Any]:
    return {
        **vars(channel),
        "value_type": channel.value_type.value,
        "allowed_values": list(channel.allowed_values),
    }


def channel_from_row(row: dict[str, Any]) -> Channel:
    return Channel(
        **{**row, "value_type": ValueType(row["value_type"]), "allowed_values": tuple(row["allowed_values"])}
    )


def _profile(row: Any) -> DeviceProfile:
    return DeviceProfile(
        id=row.id,
        tenant_id=row.tenant_id,
        version=row.version,
        latest_version=row.latest_version,
        name=row.name,
        manufacturer=row.manufacturer,
        model=row.model,
        channels=tuple(channel_from_row(c) for c in row.channels),
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _profile_query() -> Any:
    return select(profiles, profile_versions.c.version, profile_versions.c.channels).join(
        profile_versions, profile_versions.c.profile_id == profiles.c.id
    )


def add_profile(connection: Connection, profile: DeviceProfile) -> None:
    connection.execute(
        insert(profiles).values(
            id=profile.id,
            tenant_id=profile.tenant_id,
            name=profile.name,
            manufacturer=profile.manufacturer,
            model=profile.model,
            latest_version=profile.latest_version,
            created_at=profile.created_at,
            updated_at=profile.updated_at,
        )
    )
    add_version(connection, profile)


def add_version(connection: Connection, profile: DeviceProfile) -> None:
    connection.execute(
        insert(profile_versions).values(
            profile_id=profile.id,
            version=profile.version,
            channels=[channel_row(c) for c in profile.channels],
            created_at=profile.updated_at,
        )
    )


def find_profile(
    connection: Connection, tenant_id: str, profile_id: str, version: int = 0
) -> DeviceProfile | None:
    """The given version of a tenant's profile, or its latest for version 0."""
    wanted = profile_versions.c.version == (version or profiles.c.latest_version)
    query = _profile_query().where(profiles.c.id == profile_id, profiles.c.tenant_id == tenant_id, wanted)
    row = connection.execute(query).first()
    return _profile(row) if row else None


def list_profiles(
    connection: Connection, tenant_id: str, after: list[Any] | None, limit: int
) -> list[DeviceProfile]:
    query = _profile_query().where(
        profiles.c.tenant_id == tenant_id, profile_versions.c.version == profiles.c.latest_version
    )
    if after is not None:
        query = query.where(tuple_(profiles.c.name, profiles.c.id) > tuple_(*after))
    rows = connection.execute(query.order_by(profiles.c.name, profiles.c.id).limit(limit))
    return [_profile(row) for row in rows]


def save_profile(connection: Connection, profile: DeviceProfile, expected_version: int) -> bool:
    """Stores a changed profile if its latest version is still `expected_version`."""
    result = connection.execute(
        update(profiles)
        .where(and_(profiles.c.id == profile.id, profiles.c.latest_version == expected_version))
        .values(
            name=profile.name,
            manufacturer=profile.manufacturer,
            model=profile.model,
            latest_version=profile.latest_version,
            updated_at=profile.updated_at,
        )
    )
    return result.rowcount == 1


def channels_of(
    connection: Connection, versions: Iterable[tuple[str, int]]
) -> dict[tuple[str, int], tuple[Channel, ...]]:
    """The channels of each (profile id, version)."""
    keys = list(set(versions))
    if not keys:
        return {}
    query = select(profile_versions).where(
        tuple_(profile_versions.c.profile_id, profile_versions.c.version).in_(keys)
    )
    return {
        (row.profile_id, row.version): tuple(channel_from_row(c) for c in row.channels)
        for row in connection.execute(query)
    }


def latest_versions(connection: Connection, tenant_id: str, profile_ids: Iterable[str]) -> dict[str, int]:
    """The latest version of each of the tenant's profiles among `profile_ids`."""
    query = select(profiles.c.id, profiles.c.latest_version).where(
        profiles.c.tenant_id == tenant_id, profiles.c.id.in_(set(profile_ids))
    )
    return dict(connection.execute(query).tuples().all())


def existing_versions(connection: Connection, pairs: Iterable[tuple[str, int]]) -> set[tuple[str, int]]:
    keys = list(set(pairs))
    if not keys:
        return set()
    query = select(profile_versions.c.profile_id, profile_versions.c.version).where(
        tuple_(profile_versions.c.profile_id, profile_versions.c.version).in_(keys)
    )
    return set(connection.execute(query).tuples().all())
