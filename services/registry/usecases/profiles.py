"""Use cases of device profiles: the typed channels of a device model, versioned."""

from __future__ import annotations

import math
import uuid
from dataclasses import replace
from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from services.kit.errors import FieldViolation, InvalidArgument, NotFound, VersionMismatch
from services.kit.events import new_event
from services.kit.pagination import decode_cursor, encode_cursor, page_size
from services.kit.validation import load, require_uuid, text
from services.registry.domain import Channel, DeviceProfile, ValueType
from services.registry.queries import profiles as queries
from services.registry.queries import tenant_exists
from services.registry.queries.profiles import channel_row
from services.registry.usecases import Clock, UnitOfWorkFactory, utc_now

MAX_CHANNELS = 256
MAX_ALLOWED_VALUES = 256
CHANNEL_KEY = r"^[A-Za-z][A-Za-z0-9_.-]{0,63}\Z"
PROFILE_FIELDS = ("name", "manufacturer", "model", "channels")


def _finite(value: float | None) -> bool:
    if value is not None and not math.isfinite(value):
        raise ValidationError("must be a finite number")
    return True


class ChannelSchema(Schema):
    key = fields.String(
        required=True,
        validate=validate.Regexp(CHANNEL_KEY, error="1-64 letters, digits or _.-, starting with a letter"),
    )
    value_type = fields.Enum(ValueType, by_value=True, required=True)
    allowed_values = fields.List(
        text(64), load_default=list, validate=validate.Length(max=MAX_ALLOWED_VALUES)
    )
    unit = text(32, required=False, load_default="")
    min = fields.Float(load_default=None, allow_nan=True, validate=_finite)
    max = fields.Float(load_default=None, allow_nan=True, validate=_finite)
    sample_interval_ms = fields.Integer(load_default=0, validate=validate.Range(min=0, max=86_400_000))

    @validates_schema
    def check_type_rules(self, data: dict[str, Any], **_: Any) -> None:
        is_enum = data.get("value_type") is ValueType.ENUM
        numeric = data.get("value_type") in (ValueType.FLOAT, ValueType.INT)
        values = data.get("allowed_values", [])
        if is_enum and not values:
            raise ValidationError("an enum channel needs its allowed values", "allowed_values")
        if not is_enum and values:
            raise ValidationError("only enum channels have allowed values", "allowed_values")
        if len(set(values)) != len(values):
            raise ValidationError("allowed values must be distinct", "allowed_values")
        bounds = data.get("min"), data.get("max")
        if not numeric and bounds != (None, None):
            raise ValidationError("only float and int channels have bounds", "min")
        if None not in bounds and bounds[0] > bounds[1]:
            raise ValidationError("min must not exceed max", "min")


def _distinct_keys(channels: list[dict[str, Any]]) -> bool:
    keys = [c.get("key") for c in channels]
    if len(set(keys)) != len(keys):
        raise ValidationError("channel keys must be distinct")
    return True


class ProfileSchema(Schema):
    name = text(200)
    manufacturer = text(200, required=False, load_default="")
    model = text(200, required=False, load_default="")
    channels = fields.List(
        fields.Nested(ChannelSchema),
        required=True,
        validate=[validate.Length(min=1, max=MAX_CHANNELS), _distinct_keys],
    )


def channels_from(loaded: list[dict[str, Any]]) -> tuple[Channel, ...]:
    return tuple(Channel(**{**c, "allowed_values": tuple(c["allowed_values"])}) for c in loaded)


def _published(profile: DeviceProfile) -> Any:
    return new_event(
        "profile.published",
        profile.tenant_id,
        {
            "profile_id": profile.id,
            "version": profile.version,
            "channels": [channel_row(c) for c in profile.channels],
        },
    )


class Profiles:
    def __init__(self, unit_of_work: UnitOfWorkFactory, clock: Clock = utc_now) -> None:
        self._unit_of_work = unit_of_work
        self._clock = clock

    def create(self, tenant_id: str, request: dict[str, Any]) -> DeviceProfile:
        tenant_id = require_uuid(tenant_id, "tenant_id")
        command = load(ProfileSchema(), request)
        now = self._clock()
        profile = DeviceProfile(
            str(uuid.uuid4()),
            tenant_id,
            1,
            1,
            command["name"],
            command["manufacturer"],
            command["model"],
            channels_from(command["channels"]),
            now,
            now,
        )
        with self._unit_of_work() as uow:
            if not tenant_exists(uow.connection, tenant_id):
                raise NotFound("tenant not found")
            queries.add_profile(uow.connection, profile)
            uow.emit(_published(profile))
            uow.commit()
        return profile

    def get(self, tenant_id: str, profile_id: str, version: int = 0) -> DeviceProfile:
        tenant_id, profile_id = require_uuid(tenant_id, "tenant_id"), require_uuid(profile_id, "profile_id")
        if version < 0:
            raise InvalidArgument([FieldViolation("version", "must not be negative")])
        with self._unit_of_work(read_only=True) as uow:
            profile = queries.find_profile(uow.connection, tenant_id, profile_id, version)
        if profile is None:
            raise NotFound("profile not found")
        return profile

    def list(self, tenant_id: str, size: int, cursor: str) -> tuple[list[DeviceProfile], str]:
        tenant_id = require_uuid(tenant_id, "tenant_id")
        limit = page_size(size)
        listing = {"list": "profiles", "tenant": tenant_id}
        after = decode_cursor(cursor, listing)
        with self._unit_of_work(read_only=True) as uow:
            found = queries.list_profiles(uow.connection, tenant_id, after, limit + 1)
        page = found[:limit]
        next_cursor = encode_cursor([page[-1].name, page[-1].id], listing) if len(found) > limit else ""
        return page, next_cursor

    def update(
        self,
        tenant_id: str,
        profile_id: str,
        expected_version: int,
        paths: list[str],
        request: dict[str, Any],
    ) -> DeviceProfile:
        if not paths or set(paths) - set(PROFILE_FIELDS):
            raise InvalidArgument([FieldViolation("update_mask", f"name any of {', '.join(PROFILE_FIELDS)}")])
        changes = load(ProfileSchema(partial=True), {path: request[path] for path in paths})
        current = self.get(tenant_id, profile_id)
        if expected_version != current.latest_version:
            raise VersionMismatch(f"profile is at version {current.latest_version}, not {expected_version}")
        updated = self._apply(current, changes)
        with self._unit_of_work() as uow:
            if not queries.save_profile(uow.connection, updated, expected_version):
                raise VersionMismatch("profile changed meanwhile; read it again")
            if updated.version != current.version:
                queries.add_version(uow.connection, updated)
                uow.emit(_published(updated))
            uow.commit()
        return updated

    def _apply(self, profile: DeviceProfile, changes: dict[str, Any]) -> DeviceProfile:
        now = self._clock()
        updated = replace(
            profile,
            **{k: changes[k] for k in ("name", "manufacturer", "model") if k in changes},
            updated_at=now,
        )
        if "channels" in changes and channels_from(changes["channels"]) != profile.channels:
            version = profile.latest_version + 1
            updated = replace(
                updated, channels=channels_from(changes["channels"]), version=version, latest_version=version
            )
        return updated
