"""The one way the gateway turns protobuf messages into the partner API's JSON and
validated JSON into request messages: by reflection over the message's descriptor.

Reflection rather than a converter per message, because the partner API's JSON is the
contract's messages under their protobuf field names (so that a backend's field errors
name the body's fields), and the few rules below then hold for every route at once: a
field added to a message appears in every answer without a converter to forget.

- Enums by their lower-case names without the prefix their values share (null for
  UNSPECIFIED); timestamps in RFC 3339 (UTC, `Z`); durations in whole seconds.
- Unset optional fields and unset messages as null; maps and `Struct`s as objects.
- `gantry.v1.Value` (a oneof of scalars) as the scalar it holds.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from gantry.v1 import common_pb2 as common_pb
from google.protobuf import json_format, message_factory
from google.protobuf.descriptor import EnumDescriptor, FieldDescriptor
from google.protobuf.message import Message

from services.kit.protos import enum_prefix, from_timestamp, timestamp

_TIMESTAMP = "google.protobuf.Timestamp"
_DURATION = "google.protobuf.Duration"
_STRUCT = "google.protobuf.Struct"
_VALUE = "gantry.v1.Value"


def rfc3339(message: Any) -> str:
    return from_timestamp(message).isoformat().replace("+00:00", "Z")


def _prefix(enum: EnumDescriptor) -> str:
    """The prefix every value of `enum` shares: `SIZE_CLASS_` for SIZE_CLASS_SMALL, and
    none for an enum whose values do not repeat its name (Aggregate's MIN, MAX)."""
    prefix = enum_prefix(enum)
    return prefix if all(value.name.startswith(prefix) for value in enum.values) else ""


def _is_map(field: FieldDescriptor) -> bool:
    return field.message_type is not None and field.message_type.GetOptions().map_entry


def _json_value(field: FieldDescriptor, value: Any) -> Any:
    if field.enum_type is not None:
        if value == 0 or value not in field.enum_type.values_by_number:
            return None
        return field.enum_type.values_by_number[value].name.removeprefix(_prefix(field.enum_type)).lower()
    if field.message_type is None:
        return value
    kind = field.message_type.full_name
    if kind == _TIMESTAMP:
        return rfc3339(value)
    if kind == _DURATION:
        return value.seconds
    if kind == _STRUCT:
        return json_format.MessageToDict(value)
    if kind == _VALUE:
        which = value.WhichOneof("kind")
        return getattr(value, which) if which else None
    return to_json(value)


def to_json(message: Message, omit: tuple[str, ...] = ()) -> dict[str, Any]:
    """A message as the partner API shows it, but the fields in `omit` (such as a
    tenant id the caller knows and the answer never showed)."""
    body: dict[str, Any] = {}
    for field in message.DESCRIPTOR.fields:
        if field.name in omit:
            continue
        value = getattr(message, field.name)
        if _is_map(field):
            value_field = field.message_type.fields_by_name["value"]
            body[field.name] = {key: _json_value(value_field, item) for key, item in value.items()}
        elif field.is_repeated:
            body[field.name] = [_json_value(field, item) for item in value]
        elif field.has_presence and not message.HasField(field.name) and not _shown_empty(field):
            body[field.name] = None
        else:
            body[field.name] = _json_value(field, value)
    return body


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
