"""Use cases of machine models (one per profile, checked against the profile's channels,
which the registry tells) and site calendars (one per site of a tenant).

Both are written whole with the version the caller read: 0 to create, so that two people
editing one model never overwrite each other. A deleted one keeps counting versions, so
that an old copy cannot bring it back."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from sqlalchemy.exc import IntegrityError

from services.analytics.domain.plant_settings import PlantSetting, SettingKind
from services.analytics.queries import plant_settings as queries
from services.analytics.usecases import Clock, UnitOfWorkFactory, utc_now
from services.analytics.usecases.calendar_input import CalendarRequestSchema, stored_calendar
from services.analytics.usecases.machine_model_input import ModelRequestSchema, check_against_profile
from services.kit.errors import FieldViolation, InvalidArgument, NotFound, VersionMismatch
from services.kit.registry import Registry
from services.kit.validation import load, require_uuid

MODEL_SCHEMA = ModelRequestSchema()
CALENDAR_SCHEMA = CalendarRequestSchema()
NAMES = {SettingKind.MACHINE_MODEL: "machine model", SettingKind.SITE_CALENDAR: "site calendar"}


class PlantSettings:
    def __init__(self, unit_of_work: UnitOfWorkFactory, registry: Registry, clock: Clock = utc_now) -> None:
        self._unit_of_work = unit_of_work
        self._registry = registry
        self._clock = clock

    def put_machine_model(
        self, tenant_id: str, profile_id: str, definition: dict[str, Any], expected_version: int
    ) -> PlantSetting:
        tenant_id = require_uuid(tenant_id, "tenant_id")
        profile_id = require_uuid(profile_id, "profile_id")
        loaded = load(MODEL_SCHEMA, {"model": definition})["model"]
        channels = self._registry.profile_channels(tenant_id, profile_id)
        if channels is None:
            raise NotFound("profile not found")
        check_against_profile(loaded, channels)
        return self._put(SettingKind.MACHINE_MODEL, tenant_id, profile_id, loaded, expected_version)

    def put_site_calendar(
        self, tenant_id: str, site: str, definition: dict[str, Any], expected_version: int
    ) -> PlantSetting:
        tenant_id = require_uuid(tenant_id, "tenant_id")
        loaded = load(CALENDAR_SCHEMA, {"site": site, "calendar": definition})
        return self._put(
            SettingKind.SITE_CALENDAR,
            tenant_id,
            loaded["site"],
            stored_calendar(loaded["calendar"]),
            expected_version,
        )

    def get(self, kind: SettingKind, tenant_id: str, key: str) -> PlantSetting:
        tenant_id = require_uuid(tenant_id, "tenant_id")
        with self._unit_of_work(read_only=True) as uow:
            found = queries.find_setting(uow.connection, kind, tenant_id, key)
        if found is None:
            raise NotFound(f"{NAMES[kind]} not found")
        return found

    def list(self, kind: SettingKind, tenant_id: str) -> list[PlantSetting]:
        tenant_id = require_uuid(tenant_id, "tenant_id")
        with self._unit_of_work(read_only=True) as uow:
            return queries.list_settings(uow.connection, kind, tenant_id)

    def delete(self, kind: SettingKind, tenant_id: str, key: str, expected_version: int) -> PlantSetting:
        current = self.get(kind, tenant_id, key)
        _require_version(current, expected_version)
        deleted = replace(current, version=current.version + 1, updated_at=self._clock(), deleted=True)
        with self._unit_of_work() as uow:
            if not queries.save_setting(uow.connection, deleted, expected_version):
                raise VersionMismatch(f"the {NAMES[kind]} changed meanwhile; read it again")
            uow.commit()
        return deleted

    def _put(
        self, kind: SettingKind, tenant_id: str, key: str, definition: dict[str, Any], expected_version: int
    ) -> PlantSetting:
        if expected_version < 0:
            raise InvalidArgument(
                [FieldViolation("expected_version", "0 to create, else the version you read")]
            )
        now = self._clock()
        with self._unit_of_work() as uow:
            current = queries.find_setting(uow.connection, kind, tenant_id, key, deleted=True)
            setting = _next(kind, tenant_id, key, definition, current, expected_version, now)
            if current is None:
                queries.add_setting(uow.connection, setting)
            elif not queries.save_setting(uow.connection, setting, current.version):
                raise VersionMismatch(f"the {NAMES[kind]} changed meanwhile; read it again")
            try:
                uow.commit()
            except IntegrityError as error:
                raise VersionMismatch(f"the {NAMES[kind]} was created meanwhile; read it") from error
        return setting


def _next(
    kind: SettingKind,
    tenant_id: str,
    key: str,
    definition: dict[str, Any],
    current: PlantSetting | None,
    expected_version: int,
    now: Any,
) -> PlantSetting:
    """The setting's next version, if the caller read the current one (0: none)."""
    live = current is not None and not current.deleted
    if expected_version == 0 and live:
        raise VersionMismatch(f"a {NAMES[kind]} exists at version {current.version}; name it to replace it")  # type: ignore[union-attr]
    if expected_version > 0 and (not live or current.version != expected_version):  # type: ignore[union-attr]
        raise VersionMismatch(f"no {NAMES[kind]} at version {expected_version}; read it again")
    if current is None:
        return PlantSetting(kind, tenant_id, key, definition, 1, now, now)
    created = current.created_at if live else now
    return PlantSetting(kind, tenant_id, key, definition, current.version + 1, created, now)


def _require_version(setting: PlantSetting, expected_version: int) -> None:
    if expected_version < 1:
        raise InvalidArgument([FieldViolation("expected_version", "name the version you read (1 or more)")])
    if setting.version != expected_version:
        raise VersionMismatch(f"it is at version {setting.version}, not {expected_version}")
