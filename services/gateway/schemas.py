"""The gateway's JSON bodies: validated by these schemas and documented from them."""

from __future__ import annotations

from marshmallow import INCLUDE, Schema, ValidationError, fields, validate, validates_schema

from services.kit.validation import text

# The ranges of the gRPC fields the numbers are forwarded in.
INT32_MAX = 2**31 - 1
INT64_MAX = 2**63 - 1
SIZE_CLASSES = ("micro", "small", "medium", "large")
TENANT_STATUSES = ("active", "suspended")


class TenantCreate(Schema):
    name = text(200)
    country = fields.String(
        required=True,
        validate=[validate.Regexp(r"^[A-Z]{2}$"), validate.Length(equal=2)],
        metadata={"example": "CN", "description": "ISO 3166-1 alpha-2 country or region code"},
    )
    size_class = fields.String(required=True, validate=validate.OneOf(SIZE_CLASSES))


class Patch(Schema):
    """A partial update: the fields absent stay as they are, but one must be present."""

    @validates_schema
    def names_a_change(self, data: dict, **_: object) -> None:
        if not data:
            raise ValidationError("name at least one field to change", "_schema")


class Tenant(Schema):
    id = fields.String(required=True, metadata={"format": "uuid"})
    name = fields.String(required=True)
    country = fields.String(required=True)
    size_class = fields.String(required=True, validate=validate.OneOf(SIZE_CLASSES))
    status = fields.String(required=True, validate=validate.OneOf(TENANT_STATUSES))
    version = fields.Integer(required=True)
    created_at = fields.DateTime(required=True)
    updated_at = fields.DateTime(required=True)


class TenantListQuery(Schema):
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=1000))
    cursor = fields.String(load_default="", validate=validate.Length(max=2048))
    country = fields.String(
        load_default="", validate=[validate.Regexp(r"^([A-Z]{2})?$"), validate.Length(max=2)]
    )
    status = fields.String(load_default=None, validate=validate.OneOf(TENANT_STATUSES))


class TenantList(Schema):
    items = fields.List(fields.Nested(Tenant), required=True)
    next_cursor = fields.String(required=True, metadata={"description": "empty on the last page"})
    total = fields.Integer()


class TenantPatch(Patch):
    """The fields to change; those absent stay as they are."""

    name = text(200, required=False)
    country = fields.String(validate=[validate.Regexp(r"^[A-Z]{2}$"), validate.Length(equal=2)])
    size_class = fields.String(validate=validate.OneOf(SIZE_CLASSES))
    status = fields.String(validate=validate.OneOf(TENANT_STATUSES))


class TenantCreated(Tenant):
    api_key = fields.String(
        required=True, metadata={"description": "The tenant's first admin API key. Shown only once."}
    )


VALUE_TYPES = ("float", "int", "bool", "string", "enum")
DEVICE_STATES = ("provisioned", "active", "suspended", "decommissioned")


class Channel(Schema):
    key = fields.String(
        required=True, validate=validate.Length(min=1, max=64), metadata={"example": "spindle_temp"}
    )
    value_type = fields.String(required=True, validate=validate.OneOf(VALUE_TYPES))
    unit = fields.String(load_default="", validate=validate.Length(max=32), metadata={"example": "degC"})
    allowed_values = fields.List(fields.String(validate=validate.Length(max=64)), load_default=list)
    min = fields.Float(load_default=None, allow_none=True)
    max = fields.Float(load_default=None, allow_none=True)
    sample_interval_ms = fields.Integer(load_default=0, validate=validate.Range(min=0, max=INT64_MAX))


class ProfileCreate(Schema):
    name = text(200)
    manufacturer = text(200, required=False, load_default="")
    model = text(200, required=False, load_default="")
    channels = fields.List(fields.Nested(Channel), required=True, validate=validate.Length(min=1, max=256))


class Profile(ProfileCreate):
    id = fields.String(required=True, metadata={"format": "uuid"})
    tenant_id = fields.String(required=True, metadata={"format": "uuid"})
    version = fields.Integer(required=True)
    latest_version = fields.Integer(required=True)
    created_at = fields.DateTime(required=True)
    updated_at = fields.DateTime(required=True)


class DeviceCreate(Schema):
    serial_number = fields.String(
        required=True, validate=validate.Length(min=1, max=64), metadata={"example": "CNC-0001"}
    )
    display_name = text(200)
    profile_id = fields.UUID(required=True)
    profile_version = fields.Integer(
        load_default=0,
        validate=validate.Range(min=0, max=INT32_MAX),
        metadata={"description": "0 or absent: the latest version"},
    )
    site = text(200, required=False, load_default="")
    production_line = text(200, required=False, load_default="")
    labels = fields.Dict(keys=fields.String(), values=fields.String(), load_default=dict)
    attributes = fields.Dict(keys=fields.String(), load_default=dict)
    firmware_version = text(64, required=False, load_default="")


class Device(Schema):
    id = fields.String(required=True, metadata={"format": "uuid"})
    tenant_id = fields.String(required=True, metadata={"format": "uuid"})
    serial_number = fields.String(required=True)
    display_name = fields.String(required=True)
    profile_id = fields.String(required=True, metadata={"format": "uuid"})
    profile_version = fields.Integer(required=True)
    site = fields.String(required=True)
    production_line = fields.String(required=True)
    labels = fields.Dict(keys=fields.String(), values=fields.String(), required=True)
    attributes = fields.Dict(keys=fields.String(), required=True)
    firmware_version = fields.String(required=True)
    state = fields.String(required=True, validate=validate.OneOf(DEVICE_STATES))
    connectivity = fields.String(required=True, validate=validate.OneOf(("never_seen", "online", "offline")))
    last_seen_at = fields.DateTime(allow_none=True)
    version = fields.Integer(required=True)
    created_at = fields.DateTime(required=True)
    updated_at = fields.DateTime(required=True)


class DeviceCreated(Device):
    access_token = fields.String(
        required=True, metadata={"description": "The device's first access token. Shown only once."}
    )


SCALAR = {"oneOf": [{"type": "number"}, {"type": "integer"}, {"type": "boolean"}, {"type": "string"}]}
REJECTION_REASONS = (
    "unknown_device",
    "device_not_accepting",
    "unknown_channel",
    "wrong_type",
    "not_allowed",
    "not_finite",
    "too_long",
    "in_the_future",
    "too_old",
)


MAX_BULK_DEVICES = 5000


class DeviceBulkCreate(Schema):
    devices = fields.List(
        fields.Nested(DeviceCreate),
        required=True,
        validate=validate.Length(min=1, max=MAX_BULK_DEVICES),
        metadata={"description": "All registered, or none: an error names `devices[i].field`"},
    )


class DeviceBulkCreated(Schema):
    items = fields.List(fields.Nested(DeviceCreated), required=True)


class CredentialCreate(Schema):
    valid_from = fields.AwareDateTime(load_default=None, metadata={"description": "Absent: from now"})
    valid_until = fields.AwareDateTime(load_default=None, metadata={"description": "Absent: until revoked"})


class Credential(Schema):
    id = fields.String(required=True)
    device_id = fields.String(required=True, metadata={"format": "uuid"})
    created_at = fields.DateTime(required=True)
    valid_from = fields.DateTime(allow_none=True)
    valid_until = fields.DateTime(allow_none=True)
    revoked_at = fields.DateTime(allow_none=True)


class CredentialCreated(Credential):
    access_token = fields.String(
        required=True, metadata={"description": "The access token. Shown only once."}
    )


class CredentialList(Schema):
    items = fields.List(fields.Nested(Credential), required=True)


class ChannelValue(Schema):
    channel = fields.String(required=True)
    ts = fields.DateTime(required=True)
    value = fields.Raw(required=True, metadata=SCALAR)


class Sample(Schema):
    ts = fields.Raw(
        required=True,
        metadata={
            "description": "Milliseconds since the Unix epoch (seconds when below 10^11), "
            "or an RFC 3339 timestamp with a zone",
            "oneOf": [{"type": "integer"}, {"type": "number"}, {"type": "string", "format": "date-time"}],
        },
    )
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


class Rejection(Schema):
    device_index = fields.Integer(required=True)
    sample_index = fields.Integer(required=True, metadata={"description": "-1: every sample of the device"})
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


AGGREGATES = ("min", "max", "avg", "count", "first", "last")


class Period(Schema):
    start = fields.AwareDateTime(required=True, metadata={"description": "RFC 3339, inclusive"})
    end = fields.AwareDateTime(required=True, metadata={"description": "RFC 3339, exclusive"})


class ReadingsQuery(Period):
    channel = fields.List(
        fields.String(validate=validate.Length(min=1, max=64)),
        load_default=list,
        validate=validate.Length(max=100),
        metadata={"description": "Repeat for several channels; none for every channel"},
    )


class ReadingsPageQuery(ReadingsQuery):
    limit = fields.Integer(load_default=500, validate=validate.Range(min=1, max=1000))
    cursor = fields.String(load_default="", validate=validate.Length(max=2048))


class SeriesQuery(Period):
    channel = fields.String(required=True, validate=validate.Length(min=1, max=64))
    bucket = fields.Integer(
        required=True,
        validate=validate.Range(min=1, max=10 * 366 * 86400),
        metadata={"description": "Bucket width in seconds; buckets are aligned to the Unix epoch"},
    )
    aggregate = fields.List(
        fields.String(validate=validate.OneOf(AGGREGATES)),
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


class ThingsBoardAttributes(Schema):
    """Client attributes a device reports: `{"key": value, ...}`; null removes a key."""

    class Meta:
        unknown = INCLUDE


class ThingsBoardAttributesQuery(Schema):
    clientKeys = fields.String(
        load_default="", validate=validate.Length(max=4096), metadata={"description": "comma-separated"}
    )
    sharedKeys = fields.String(
        load_default="", validate=validate.Length(max=4096), metadata={"description": "comma-separated"}
    )


class ThingsBoardAttributeValues(Schema):
    client = fields.Dict(required=True)
    shared = fields.Dict(required=True)


class ThingsBoardTelemetry(Schema):
    """ThingsBoard's device telemetry: `{"key": value, ...}`, `{"ts": ms, "values": {...}}`,
    or an array of either."""

    class Meta:
        unknown = INCLUDE


class LatestValues(Schema):
    device_id = fields.String(required=True, metadata={"format": "uuid"})
    values = fields.List(fields.Nested(ChannelValue), required=True)


class ProblemDetail(Schema):
    type = fields.String(required=True)
    title = fields.String(required=True)
    status = fields.Integer(required=True)
    detail = fields.String(required=True)
    request_id = fields.String()
    errors = fields.List(fields.Dict())


class Health(Schema):
    status = fields.String(required=True)
    checks = fields.Dict(keys=fields.String(), values=fields.String())


def _label_selector(value: str) -> bool:
    key, separator, label = value.partition("=")
    if not separator or not key or not label:
        raise ValidationError("write each label as key=value")
    return True


class DeviceListQuery(Schema):
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=1000))
    cursor = fields.String(load_default="", validate=validate.Length(max=2048))
    profile_id = fields.UUID(load_default=None)
    state = fields.String(load_default=None, validate=validate.OneOf(DEVICE_STATES))
    site = fields.String(load_default="", validate=validate.Length(max=200))
    label = fields.List(
        fields.String(validate=[validate.Length(max=127), _label_selector]),
        load_default=list,
        validate=validate.Length(max=16),
        metadata={"description": "key=value; repeat for several labels, all of which must match"},
    )
    q = fields.String(
        load_default="",
        validate=validate.Length(max=64),
        metadata={"description": "case-insensitive prefix of the serial number or the display name"},
    )
    order_by = fields.String(
        load_default="serial_number",
        validate=validate.OneOf(
            [f"{sign}{o}" for sign in ("", "-") for o in ("serial_number", "display_name", "created_at")]
        ),
    )
    include_total = fields.Boolean(load_default=False)


class DeviceList(Schema):
    items = fields.List(fields.Nested(Device), required=True)
    next_cursor = fields.String(required=True, metadata={"description": "empty on the last page"})
    total = fields.Integer(required=True, metadata={"description": "-1 unless include_total was asked"})


class StateChange(Schema):
    state = fields.String(required=True, validate=validate.OneOf(DEVICE_STATES[1:]))


SCOPES = (
    "admin",
    "devices:read",
    "devices:write",
    "telemetry:read",
    "telemetry:write",
    "marketplace:trade",
    "analytics:read",
)


class PageQuery(Schema):
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=1000))
    cursor = fields.String(load_default="", validate=validate.Length(max=2048))


class ApiKeyCreate(Schema):
    name = text(200)
    scopes = fields.List(
        fields.String(validate=validate.OneOf(SCOPES)),
        required=True,
        validate=validate.Length(min=1, max=len(SCOPES)),
    )
    expires_at = fields.AwareDateTime(load_default=None, metadata={"description": "RFC 3339; absent: never"})


class ApiKey(Schema):
    id = fields.String(required=True, metadata={"format": "uuid"})
    name = fields.String(required=True)
    scopes = fields.List(fields.String(validate=validate.OneOf(SCOPES)), required=True)
    created_at = fields.DateTime(required=True)
    expires_at = fields.DateTime(allow_none=True)
    revoked_at = fields.DateTime(allow_none=True)


class ApiKeyCreated(ApiKey):
    secret = fields.String(required=True, metadata={"description": "The key itself. Shown only once."})


class ApiKeyList(Schema):
    items = fields.List(fields.Nested(ApiKey), required=True)
    next_cursor = fields.String(required=True)
    total = fields.Integer(required=True)


class DevicePatch(Patch):
    """The fields to change; those absent stay as they are, labels and attributes are replaced whole."""

    display_name = text(200, required=False)
    site = text(200, required=False)
    production_line = text(200, required=False)
    labels = fields.Dict(keys=fields.String(), values=fields.String())
    attributes = fields.Dict(keys=fields.String())
    firmware_version = text(64, required=False)
    profile_version = fields.Integer(
        validate=validate.Range(min=1, max=INT32_MAX),
        metadata={"description": "move to this version of the device's profile"},
    )


class ProfileList(Schema):
    items = fields.List(fields.Nested(Profile), required=True)
    next_cursor = fields.String(required=True)


class ProfilePatch(Patch):
    """The fields to change. New channels make a new version of the profile."""

    name = text(200, required=False)
    manufacturer = text(200, required=False)
    model = text(200, required=False)
    channels = fields.List(fields.Nested(Channel), validate=validate.Length(min=1, max=256))
