"""The one way the gateway turns protobuf messages into the partner API's JSON and
validated JSON into request messages: by reflection over the message's descriptor.

Reflection rather than a converter per message, because the partner API's JSON is the
contract's messages under their protobuf field names (so that a backend's field errors
name the body's fields), and the few rules below then hold for every route at once: a
field added to a message appears in every answer without a converter to forget.

- Enums by their lower-case names without the prefix their values share (null for
  UNSPECIFIED); timestamps in RFC 3339 (UTC, `Z`); durations in whole seconds.
- Unset optional fields and unset messages as null; maps and `Struct`s as objects.
- `gantry.v1.Value` (a oneof of scalars) as the scalar it holds, both ways.
- A string field named `<name>_json`, a JSON document the backend keeps as it came, as
  that document under `<name>` (null when empty).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

import orjson
from gantry.v1 import common_pb2 as common_pb
from google.protobuf import json_format, message_factory
from google.protobuf.descriptor import Descriptor, EnumDescriptor, FieldDescriptor
from google.protobuf.message import Message

from services.kit.protos import enum_prefix, from_timestamp, scalar_of, timestamp, value_message

_TIMESTAMP = "google.protobuf.Timestamp"
_DURATION = "google.protobuf.Duration"
_STRUCT = "google.protobuf.Struct"
_VALUE = "gantry.v1.Value"
_JSON_SUFFIX = "_json"


def rfc3339(message: Any) -> str:
    return from_timestamp(message).isoformat().replace("+00:00", "Z")


def _prefix(enum: EnumDescriptor) -> str:
    """The prefix every value of `enum` shares: `SIZE_CLASS_` for SIZE_CLASS_SMALL, and
    none for an enum whose values do not repeat its name (Aggregate's MIN, MAX)."""
    prefix = enum_prefix(enum)
    return prefix if all(value.name.startswith(prefix) for value in enum.values) else ""


def _is_map(field: FieldDescriptor) -> bool:
    return field.message_type is not None and field.message_type.GetOptions().map_entry


def _holds_json(field: FieldDescriptor) -> bool:
    return field.type == FieldDescriptor.TYPE_STRING and field.name.endswith(_JSON_SUFFIX)


def _shown_name(field: FieldDescriptor) -> str:
    return field.name.removesuffix(_JSON_SUFFIX) if _holds_json(field) else field.name


Reader = Callable[[Message], Any]
# Each message type's fields, with how to read each as JSON: worked out once per type,
# since every answer of a type reads the same fields the same way.
_PLANS: dict[Descriptor, list[tuple[str, Reader]]] = {}


def to_json(message: Message, omit: tuple[str, ...] = ()) -> dict[str, Any]:
    """A message as the partner API shows it, but the fields in `omit` (such as a
    tenant id the caller knows and the answer never showed)."""
    return {name: read(message) for name, read in _plan(message.DESCRIPTOR) if name not in omit}


def _plan(descriptor: Descriptor) -> list[tuple[str, Reader]]:
    plan = _PLANS.get(descriptor)
    if plan is None:
        plan = _PLANS[descriptor] = [(_shown_name(field), _reader(field)) for field in descriptor.fields]
    return plan


def _reader(field: FieldDescriptor) -> Reader:
    name = field.name
    if _is_map(field):
        convert = _converter(field.message_type.fields_by_name["value"])
        return lambda message: {key: convert(item) for key, item in getattr(message, name).items()}
    convert = _converter(field)
    if field.is_repeated:
        return lambda message: [convert(item) for item in getattr(message, name)]
    if field.has_presence and not _shown_empty(field):
        return lambda message: convert(getattr(message, name)) if message.HasField(name) else None
    return lambda message: convert(getattr(message, name))


def _converter(field: FieldDescriptor) -> Callable[[Any], Any]:
    """How one value of `field` reads as JSON."""
    if field.enum_type is not None:
        prefix = _prefix(field.enum_type)
        # UNSPECIFIED (0) and numbers the contract does not know read as null.
        names = {v.number: v.name.removeprefix(prefix).lower() for v in field.enum_type.values if v.number}
        return names.get
    if _holds_json(field):
        return _parsed
    if field.message_type is None:
        return _same
    return _MESSAGE_CONVERTERS.get(field.message_type.full_name, to_json)


def _same(value: Any) -> Any:
    return value


def _parsed(document: str) -> Any:
    return orjson.loads(document) if document else None


_MESSAGE_CONVERTERS: dict[str, Callable[[Any], Any]] = {
    _TIMESTAMP: rfc3339,
    _DURATION: lambda value: value.seconds,
    _STRUCT: json_format.MessageToDict,
    _VALUE: scalar_of,
}


def _shown_empty(field: FieldDescriptor) -> bool:
    # An unset Struct is an empty object to a partner, as an empty map is.
    return field.message_type is not None and field.message_type.full_name == _STRUCT


def _proto_value(field: FieldDescriptor, value: Any) -> Any:
    if field.enum_type is not None:
        return field.enum_type.values_by_name[_prefix(field.enum_type) + value.upper()].number
    if isinstance(value, datetime):
        return timestamp(value)
    if isinstance(value, uuid.UUID):
        return str(value)
    if field.message_type is not None and field.message_type.full_name == _VALUE:
        return value_message(value)
    if isinstance(value, dict) and field.message_type is not None and not _is_map(field):
        if field.message_type.full_name == _STRUCT:
            return value
        return to_message(message_factory.GetMessageClass(field.message_type), value)
    return value


def to_message(kind: type[Message], values: dict[str, Any], **fixed: Any) -> Any:
    """A message from a validated body or query (absent or null values left unset;
    `limit` and `cursor` as its page) and the fields the gateway decides (`fixed`)."""
    fields = kind.DESCRIPTOR.fields_by_name
    request: dict[str, Any] = dict(fixed)
    for name, value in values.items():
        if value is None or name in ("limit", "cursor"):
            continue
        field = fields[name]
        if field.is_repeated and not _is_map(field):
            request[name] = [_proto_value(field, item) for item in value]
        else:
            request[name] = _proto_value(field, value)
    if "page" in fields and "limit" in values:
        request["page"] = page_request(values)
    return kind(**request)


def page_request(query: dict[str, Any]) -> common_pb.PageRequest:
    """The page a list call asks for, from its `limit` and `cursor` query parameters."""
    return common_pb.PageRequest(page_size=query["limit"], cursor=query["cursor"])


def page_json(items: Any, page: common_pb.PageInfo, omit: tuple[str, ...] = ()) -> dict[str, Any]:
    """A page of a list: its items and the cursor of the next (empty on the last)."""
    return {"items": [to_json(item, omit) for item in items], "next_cursor": page.next_cursor}
