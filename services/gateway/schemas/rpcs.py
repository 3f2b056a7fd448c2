"""Server-side RPC: a partner calls a device's method and reads what became of its calls."""

from __future__ import annotations

from gantry.v1 import registry_pb2 as pb
from marshmallow import Schema, fields, validate

from services.gateway.schemas.common import PageQuery, count, names
from services.kit.validation import text

RPC_STATUSES = names(pb.RpcStatus)
JSON_VALUE = {"description": "any JSON value"}


class RpcCreate(Schema):
    method = text(128, metadata={"description": "the device's method, as its firmware names it"})
    params = fields.Raw(load_default=None, allow_none=True, metadata=JSON_VALUE)
    one_way = fields.Boolean(
        load_default=False,
        metadata={"description": "true: the device is not to answer; the call ends once it is delivered"},
    )
    timeout_ms = count(
        100,
        60_000,
        load_default=10_000,
        metadata={"description": "how long this request waits for the outcome; 504 when it runs out"},
    )
    expires_in_seconds = count(
        0,
        7 * 24 * 3600,
        load_default=0,
        metadata={
            "description": "how long the call waits for a device that is not connected (0: the timeout); "
            "it is delivered when the device connects"
        },
    )


class Rpc(Schema):
    id = fields.String(required=True, metadata={"format": "uuid"})
    device_id = fields.String(required=True, metadata={"format": "uuid"})
    method = fields.String(required=True)
    params = fields.Raw(allow_none=True, metadata=JSON_VALUE)
    one_way = fields.Boolean(required=True)
    timeout_ms = fields.Integer(required=True)
    status = fields.String(
        required=True,
        validate=validate.OneOf(RPC_STATUSES),
        metadata={
            "description": "queued (waiting for the device), sent (two-way, awaiting its answer), "
            "delivered (one-way), succeeded (answered) or expired"
        },
    )
    response = fields.Raw(
        allow_none=True, metadata={"description": "the device's answer; null until it answers"}
    )
    created_at = fields.DateTime(required=True)
    sent_at = fields.DateTime(allow_none=True)
    answered_at = fields.DateTime(allow_none=True)
    expires_at = fields.DateTime(required=True)


class RpcList(Schema):
    items = fields.List(fields.Nested(Rpc), required=True)
    next_cursor = fields.String(required=True, metadata={"description": "empty on the last page"})


class RpcListQuery(PageQuery):
    pass
