"""Conversions between the registry's protobuf messages and its domain entities."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from gantry.v1 import common_pb2
from gantry.v1 import registry_pb2 as pb
from google.protobuf import json_format, struct_pb2
from google.protobuf.message import Message

from services.kit.protos import enum_name, enum_number, from_timestamp, timestamp
from services.registry.domain import (
    ApiKey,
    Channel,
    Device,
    DeviceCredential,
    DeviceProfile,
    Tenant,
)


def timestamp_fields(**values: datetime | None) -> dict[str, Any]:
    return {name: timestamp(value) for name, value in values.items() if value is not None}


def datetime_or_none(message: Message, field: str) -> datetime | None:
    return from_timestamp(getattr(message, field)) if message.HasField(field) else None


def mask_paths(message: Message) -> list[str]:
    return list(message.update_mask.paths)


def page_info(next_cursor: str, total: int = -1) -> common_pb2.PageInfo:
    return common_pb2.PageInfo(next_cursor=next_cursor, total=total)


def struct(values: dict[str, Any]) -> struct_pb2.Struct:
    message = struct_pb2.Struct()
    message.update(values)
    return message


def struct_dict(message: struct_pb2.Struct) -> dict[str, Any]:
    return json_format.MessageToDict(message)


def tenant_message(tenant: Tenant) -> pb.Tenant:
    return pb.Tenant(
        id=tenant.id,
        name=tenant.name,
        country=tenant.country,
        size_class=enum_number(pb.SizeClass, tenant.size_class, "SIZE_CLASS_"),
        status=enum_number(pb.TenantStatus, tenant.status, "TENANT_STATUS_"),
        version=tenant.version,
        **timestamp_fields(created_at=tenant.created_at, updated_at=tenant.updated_at),
    )


def api_key_message(key: ApiKey) -> pb.ApiKey:
    return pb.ApiKey(
        id=key.id,
        tenant_id=key.tenant_id,
        name=key.name,
        scopes=key.scopes,
        **timestamp_fields(created_at=key.created_at, expires_at=key.expires_at, revoked_at=key.revoked_at),
    )


def channel_message(channel: Channel) -> pb.Channel:
    bounds = {
        name: value for name, value in (("min", channel.min), ("max", channel.max)) if value is not None
    }
    return pb.Channel(
        key=channel.key,
        value_type=enum_number(pb.ValueType, channel.value_type, "VALUE_TYPE_"),
        allowed_values=channel.allowed_values,
        unit=channel.unit,
        sample_interval_ms=channel.sample_interval_ms,
        **bounds,
    )


def channel_fields(message: pb.Channel) -> dict[str, Any]:
    """A channel request as plain fields, for validation by the use case."""
    return {
        "key": message.key,
        "value_type": enum_name(pb.ValueType, message.value_type, "VALUE_TYPE_"),
        "allowed_values": list(message.allowed_values),
        "unit": message.unit,
        "min": message.min if message.HasField("min") else None,
        "max": message.max if message.HasField("max") else None,
        "sample_interval_ms": message.sample_interval_ms,
    }


def profile_message(profile: DeviceProfile) -> pb.DeviceProfile:
    return pb.DeviceProfile(
        id=profile.id,
        tenant_id=profile.tenant_id,
        version=profile.version,
        latest_version=profile.latest_version,
        name=profile.name,
        manufacturer=profile.manufacturer,
        model=profile.model,
        channels=[channel_message(c) for c in profile.channels],
        **timestamp_fields(created_at=profile.created_at, updated_at=profile.updated_at),
    )


def device_message(device: Device, connectivity: str) -> pb.Device:
    return pb.Device(
        id=device.id,
        tenant_id=device.tenant_id,
        serial_number=device.serial_number,
        display_name=device.display_name,
        state=enum_number(pb.DeviceState, device.state, "DEVICE_STATE_"),
        version=device.version,
        profile_id=device.profile_id,
        profile_version=device.profile_version,
        site=device.site,
        production_line=device.production_line,
        labels=device.labels,
        attributes=struct(device.attributes),
        firmware_version=device.firmware_version,
        connectivity=enum_number(pb.Connectivity, connectivity, "CONNECTIVITY_"),
        **timestamp_fields(
            created_at=device.created_at, updated_at=device.updated_at, last_seen_at=device.last_seen_at
        ),
    )


def device_spec_fields(spec: pb.DeviceSpec) -> dict[str, Any]:
    return {
        "serial_number": spec.serial_number,
        "display_name": spec.display_name,
        "profile_id": spec.profile_id,
        "profile_version": spec.profile_version,
        "site": spec.site,
        "production_line": spec.production_line,
        "labels": dict(spec.labels),
        "attributes": struct_dict(spec.attributes),
        "firmware_version": spec.firmware_version,
    }


def credential_message(credential: DeviceCredential) -> pb.DeviceCredential:
    return pb.DeviceCredential(
        id=credential.id,
        device_id=credential.device_id,
        tenant_id=credential.tenant_id,
        **timestamp_fields(
            created_at=credential.created_at,
            valid_from=credential.valid_from,
            valid_until=credential.valid_until,
            revoked_at=credential.revoked_at,
        ),
    )
