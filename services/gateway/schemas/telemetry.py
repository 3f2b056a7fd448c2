"""Readings: sent in bulk, read back as latest values, raw pages and downsampled series."""

from __future__ import annotations

from gantry.v1 import telemetry_pb2 as pb
from marshmallow import Schema, fields, validate

from services.gateway.schemas.common import SCALAR, Period, names

REJECTION_REASONS = names(pb.RejectionReason)
TIMESTAMP = {
    "description": "Milliseconds since the Unix epoch (seconds when below 10^11), "
    "or an RFC 3339 timestamp with a zone",
    "oneOf": [{"type": "integer"}, {"type": "number"}, {"type": "string", "format": "date-time"}],
}
AGGREGATES = ("min", "max", "avg", "count", "first", "last")


class ChannelValue(Schema):
    channel = fields.String(required=True)
    ts = fields.DateTime(required=True)
    value = fields.Raw(required=True, metadata=SCALAR)


class Sample(Schema):
    ts = fields.Raw(required=True, metadata=TIMESTAMP)
    values = fields.Dict(
        keys=fields.String(),
        values=fields.Raw(metadata=SCALAR),
        required=True,
        metadata={"example": {"spindle_temp": 41.5}},
    )


class DeviceSamples(Schema):
    device_id = fields.String(required=True, metadata={"format": "uuid"})
    samples = fields.List(fields.Nested(Sample), required=True)


class TelemetryBatch(Schema):
    devices = fields.List(
        fields.Nested(DeviceSamples),
        required=True,
        metadata={"description": "At most 50,000 readings (channel values) and 8 MiB in one request"},
    )


class DeviceColumns(Schema):
    device_id = fields.String(required=True, metadata={"format": "uuid"})
    ts = fields.List(
        fields.Raw(metadata=TIMESTAMP),
        required=True,
        metadata={"description": "The device's samples: a rejection's sample_index is an index into ts"},
    )
    values = fields.Dict(
        keys=fields.String(),
        values=fields.List(fields.Raw(metadata={"oneOf": [*SCALAR["oneOf"], {"type": "null"}]})),
        required=True,
        metadata={
            "description": "One array per channel, as long as ts: null where the channel has no value "
            "at that sample. An array of another length is rejected whole (length_mismatch)",
            "example": {"spindle_temp": [41.5, 41.7, None], "mode": ["cutting", None, "idle"]},
        },
    )


class TelemetryColumns(Schema):
    """Readings in columns: many samples per device at a fraction of the bytes and work."""

    devices = fields.List(
        fields.Nested(DeviceColumns),
        required=True,
        metadata={
            "description": "Every device in columns (told by the first device's ts); at most "
            "200,000 readings (channel values) and 8 MiB in one request"
        },
    )


class Rejection(Schema):
    device_index = fields.Integer(required=True)
    sample_index = fields.Integer(
        required=True,
        metadata={
            "description": "-1: every sample of the device, or with a channel, that channel's whole "
            "array in columns; otherwise the sample's index (in columns, the index into ts)"
        },
    )
    channel = fields.String(required=True, metadata={"description": "Empty: every value of the sample"})
    reason = fields.String(required=True, validate=validate.OneOf(REJECTION_REASONS))
    detail = fields.String(required=True)


class OutOfRange(Schema):
    device_index = fields.Integer(required=True)
    sample_index = fields.Integer(required=True)
    channel = fields.String(required=True)
    detail = fields.String(required=True)


class IngestResult(Schema):
    accepted = fields.Integer(
        required=True, metadata={"description": "Readings accepted, durable on the bus"}
    )
    rejected = fields.Integer(required=True)
    rejections = fields.List(fields.Nested(Rejection), required=True)
    out_of_range = fields.List(
        fields.Nested(OutOfRange), required=True, metadata={"description": "Accepted, but outside min/max"}
    )


class ReadingsQuery(Period):
    """`channel` as partners know it, loaded as the request's `channels`."""

    channels = fields.List(
        fields.String(validate=validate.Length(min=1, max=64)),
        data_key="channel",
        load_default=list,
        validate=validate.Length(max=100),
        metadata={"description": "Repeat for several channels; none for every channel"},
    )


class ReadingsPageQuery(ReadingsQuery):
    limit = fields.Integer(load_default=500, validate=validate.Range(min=1, max=1000))
    cursor = fields.String(load_default="", validate=validate.Length(max=2048))


class SeriesQuery(Period):
    """`aggregate` as partners know it, loaded as the request's `aggregates`."""

    channel = fields.String(required=True, validate=validate.Length(min=1, max=64))
    bucket = fields.Integer(
        required=True,
        validate=validate.Range(min=1, max=10 * 366 * 86400),
        metadata={"description": "Bucket width in seconds; buckets are aligned to the Unix epoch"},
    )
    aggregates = fields.List(
        fields.String(validate=validate.OneOf(AGGREGATES)),
        data_key="aggregate",
        load_default=list,
        metadata={
            "description": "Repeat for several; none for all that apply (min, max, avg need a number channel)"
        },
    )


class ReadingList(Schema):
    items = fields.List(fields.Nested(ChannelValue), required=True)
    next_cursor = fields.String(required=True, metadata={"description": "empty on the last page"})


class SeriesBucket(Schema):
    start = fields.DateTime(required=True)
    count = fields.Integer()
    min = fields.Float()
    max = fields.Float()
    avg = fields.Float()
    first = fields.Raw(metadata=SCALAR)
    last = fields.Raw(metadata=SCALAR)


class SeriesResult(Schema):
    device_id = fields.String(required=True, metadata={"format": "uuid"})
    channel = fields.String(required=True)
    bucket = fields.Integer(required=True, metadata={"description": "seconds"})
    aggregates = fields.List(fields.String(validate=validate.OneOf(AGGREGATES)), required=True)
    buckets = fields.List(
        fields.Nested(SeriesBucket), required=True, metadata={"description": "empty buckets left out"}
    )


class LatestValues(Schema):
    device_id = fields.String(required=True, metadata={"format": "uuid"})
    values = fields.List(fields.Nested(ChannelValue), required=True)


class Retention(Schema):
    # Telemetry checks the tier, as it does for every caller; the range keeps what the
    # gateway forwards within the message's 32 bits.
    days = fields.Integer(
        required=True,
        strict=True,
        validate=validate.Range(min=1, max=3650),
        metadata={"description": "A retention tier: 30, 90, 365, 1095 or 3650 days", "example": 365},
    )
