"""Conversions between protobuf messages and domain values, shared by every gRPC adapter."""

from __future__ import annotations

from datetime import UTC, datetime

from google.protobuf.internal.enum_type_wrapper import EnumTypeWrapper
from google.protobuf.timestamp_pb2 import Timestamp


def timestamp(value: datetime) -> Timestamp:
    message = Timestamp()
    message.FromDatetime(value.astimezone(UTC))
    return message


def from_timestamp(message: Timestamp) -> datetime:
    return message.ToDatetime(tzinfo=UTC)


def enum_name(enum: EnumTypeWrapper, number: int, prefix: str) -> str | None:
    """`SIZE_CLASS_SMALL` -> "small"; the UNSPECIFIED zero value or an unknown number -> None."""
    if number == 0 or number not in enum.values():
        return None
    return enum.Name(number).removeprefix(prefix).lower()


def enum_number(enum: EnumTypeWrapper, name: str, prefix: str) -> int:
    return enum.Value(prefix + name.upper())
