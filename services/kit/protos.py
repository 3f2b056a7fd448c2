"""Conversions between protobuf messages and domain values, shared by every gRPC adapter."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, Generic, TypeVar

from gantry.v1 import common_pb2, telemetry_pb2
from google.protobuf.descriptor import EnumDescriptor
from google.protobuf.internal.enum_type_wrapper import EnumTypeWrapper
from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp

from services.kit.errors import FieldViolation, InvalidArgument
from services.kit.validation import require_uuid

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)

Domain = TypeVar("Domain", bound=StrEnum)


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


@dataclass(frozen=True)
class EnumMap(Generic[Domain]):
    """A protobuf enum and the domain enum it stands for, value by value:
    LISTING_KIND_CAPACITY <-> ListingKind.CAPACITY."""

    proto: EnumTypeWrapper
    prefix: str
    domain: type[Domain]

    def to_domain(self, number: int, field: str) -> Domain | None:
        """The domain value, None for UNSPECIFIED; InvalidArgument naming `field` for a
        number the contract does not define, which protobuf lets through as it is."""
        if number != 0 and number not in self.proto.values():
            names = ", ".join(value.name for value in self.proto.DESCRIPTOR.values if value.number)
            raise InvalidArgument([FieldViolation(field, f"one of {names}")])
        name = enum_name(self.proto, number, self.prefix)
        return None if name is None else self.domain(name)

    def to_proto(self, value: Domain) -> int:
        return enum_number(self.proto, value, self.prefix)


Scalar = float | int | bool | str
_VALUE_FIELDS = {bool: "bool_value", int: "int_value", float: "float_value", str: "string_value"}


def scalar_of(value: telemetry_pb2.Value) -> Scalar | None:
    """The scalar a `gantry.v1.Value` holds, None when it holds none."""
    kind = value.WhichOneof("kind")
    return getattr(value, kind) if kind is not None else None


def value_message(value: Scalar) -> telemetry_pb2.Value:
    # By exact type: a bool is no int here, as a BOOL channel's value is no INT's.
    return telemetry_pb2.Value(**{_VALUE_FIELDS[type(value)]: value})


# --- Requests -------------------------------------------------------------------


def tenant_of(request: Message) -> str:
    """The calling tenant's id, checked before anything else: the use cases name it
    seller, buyer or owner, and a key of idempotency is scoped by it."""
    return require_uuid(request.tenant_id, "tenant_id")


def tenant_or_operator(request: Message) -> str | None:
    """The calling tenant's id, or None for the operator (an empty `tenant_id`)."""
    return tenant_of(request) if request.tenant_id else None


def valid_time(value: Timestamp, field: str) -> datetime:
    try:
        return from_timestamp(value)
    except ValueError:
        raise InvalidArgument([FieldViolation(field, "not a valid timestamp")]) from None


def required_time(message: Message, field: str) -> datetime:
    """A timestamp the request must carry: unset, it would read as 1970, which is never
    what a caller meant."""
    if not message.HasField(field):
        raise InvalidArgument([FieldViolation(field, "required")])
    return valid_time(getattr(message, field), field)


def value_of(message: Message, field: str) -> Any:
    """A field's value, or None when the field tracks presence and is unset."""
    tracked = message.DESCRIPTOR.fields_by_name[field].has_presence
    return None if tracked and not message.HasField(field) else getattr(message, field)


def given(**values: Any) -> dict[str, Any]:
    """The fields the caller gave: those left out (None) take the use case's defaults,
    or its required-field errors."""
    return {name: value for name, value in values.items() if value is not None}


def page_args(page: common_pb2.PageRequest) -> tuple[int, str]:
    """A page request as the use cases' last two arguments: size and cursor."""
    return page.page_size, page.cursor


def page_info(next_cursor: str) -> common_pb2.PageInfo:
    """The next page's cursor, for lists that are never counted."""
    return common_pb2.PageInfo(next_cursor=next_cursor, total=-1)


def timestamp_fields(**values: datetime | None) -> dict[str, Timestamp]:
    return {name: timestamp(value) for name, value in values.items() if value is not None}
