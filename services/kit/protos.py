"""Conversions between protobuf messages and domain values, shared by every gRPC adapter."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from google.protobuf.descriptor import EnumDescriptor
from google.protobuf.internal.enum_type_wrapper import EnumTypeWrapper
from google.protobuf.timestamp_pb2 import Timestamp

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def timestamp(value: datetime) -> Timestamp:
    """An aware datetime as a Timestamp, in integer arithmetic: exact, and a fraction of
    `Timestamp.FromDatetime`'s cost on the hottest replies."""
    seconds, micros = divmod((value - _EPOCH) // _MICROSECOND, 1_000_000)
    return Timestamp(seconds=seconds, nanos=micros * 1000)


def from_timestamp(message: Timestamp) -> datetime:
    return message.ToDatetime(tzinfo=UTC)


def enum_prefix(enum: EnumDescriptor) -> str:
    """The prefix every value of a contract's enum shares, read off its zero value:
    LISTING_KIND_UNSPECIFIED -> "LISTING_KIND_"."""
    return enum.values_by_number[0].name.removesuffix("UNSPECIFIED")


def enum_name(enum: EnumTypeWrapper, number: int, prefix: str) -> str | None:
    """`SIZE_CLASS_SMALL` -> "small"; the UNSPECIFIED zero value or an unknown number -> None."""
    if number == 0 or number not in enum.values():
        return None
    return enum.Name(number).removeprefix(prefix).lower()


def enum_number(enum: EnumTypeWrapper, name: str, prefix: str) -> int:
    return enum.Value(prefix + name.upper())
