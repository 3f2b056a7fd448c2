"""Reads and writes of machine models and site calendars."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, select, update

from services.analytics.domain.plant_settings import PlantSetting, SettingKind
from services.analytics.queries.revisions import next_revision, rows_changed_since
from services.analytics.storage import plant_settings

REVISION = "plant_settings"


def find_setting(
    connection: Connection, kind: SettingKind, tenant_id: str, key: str, deleted: bool = False
) -> PlantSetting | None:
    """The setting, or None; with `deleted`, one deleted too (its version goes on)."""
    query = select(plant_settings).where(
        plant_settings.c.kind == kind.value,
        plant_settings.c.tenant_id == tenant_id,
        plant_settings.c.key == key,
    )
    row = connection.execute(query).mappings().first()
    return setting_of(row) if row and (deleted or not row["deleted"]) else None


def list_settings(connection: Connection, kind: SettingKind, tenant_id: str) -> list[PlantSetting]:
    query = (
        select(plant_settings)
        .where(
            plant_settings.c.kind == kind.value,
            plant_settings.c.tenant_id == tenant_id,
            plant_settings.c.deleted.is_(False),
        )
        .order_by(plant_settings.c.key)
    )
    return [setting_of(row) for row in connection.execute(query).mappings()]


def add_setting(connection: Connection, setting: PlantSetting) -> None:
    connection.execute(
        plant_settings.insert().values(_row(setting) | {"revision": next_revision(connection, REVISION)})
    )


def save_setting(connection: Connection, setting: PlantSetting, expected_version: int) -> bool:
    """Writes the setting's new version unless another change came first; False then."""
    found = connection.execute(
        update(plant_settings)
        .where(
            plant_settings.c.kind == setting.kind.value,
            plant_settings.c.tenant_id == setting.tenant_id,
            plant_settings.c.key == setting.key,
            plant_settings.c.version == expected_version,
        )
        .values(_row(setting) | {"revision": next_revision(connection, REVISION)})
    )
    return found.rowcount == 1


def settings_changed_since(connection: Connection, revision: int) -> tuple[list[PlantSetting], int]:
    """Settings written after `revision` (deleted ones marked so), and the newest revision
    among them (or `revision` when none changed)."""
    rows, newest = rows_changed_since(connection, plant_settings, revision)
    return [setting_of(row) for row in rows], newest


def setting_of(row: Any) -> PlantSetting:
    return PlantSetting(
        kind=SettingKind(row["kind"]),
        tenant_id=row["tenant_id"],
        key=row["key"],
        definition=row["definition"],
        version=row["version"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        deleted=row["deleted"],
    )


def _row(setting: PlantSetting) -> dict[str, Any]:
    return {
        "kind": setting.kind.value,
        "tenant_id": setting.tenant_id,
        "key": setting.key,
        "definition": dict(setting.definition),
        "version": setting.version,
        "created_at": setting.created_at,
        "updated_at": setting.updated_at,
        "deleted": setting.deleted,
    }
