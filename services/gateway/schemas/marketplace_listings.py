"""Listings, requests for quotation and quotes."""

from __future__ import annotations

from gantry.v1 import marketplace_pb2 as pb
from marshmallow import Schema, fields, validate

from services.gateway.schemas.common import INT32_MAX, PageQuery, Patch, count, names
from services.gateway.schemas.marketplace import (
    LISTING_KINDS,
    LISTING_STATUSES,
    MONEY_DOC,
    REGION_DOC,
    REGION_RULE,
    UNITS,
    category_field,
    currency_field,
    money,
)
from services.kit.validation import text


def _measured_bound(description: str, maximum: float | None = None) -> fields.Float:
    return fields.Float(
        load_default=None,
        validate=validate.Range(min=0, max=maximum),
        # The document's minimum as an exact 0: the validator's would be written 0.0.
        metadata={
            "description": f"{description}; excludes listings without a measurement",
            "minimum": 0,
            **({} if maximum is None else {"maximum": maximum}),
        },
    )


class ListingCreate(Schema):
    kind = fields.String(required=True, validate=validate.OneOf(LISTING_KINDS))
    title = text(200)
    description = text(5000, required=False, load_default="")
    category = category_field(required=True)
    price = money()
    currency = currency_field(load_default=None)
    unit = fields.String(required=True, validate=validate.OneOf(UNITS))
    min_order_quantity = count(load_default=1)
    lead_time_days = count(0, INT32_MAX, load_default=0)
    ship_from = fields.String(required=True, validate=REGION_RULE, metadata=REGION_DOC)
    device_id = fields.UUID(
        metadata={"description": "Capacity only: the registered device whose machine-hours are sold"}
    )
    stock = count(0, metadata={"description": "Products only, and required for them"})


class CapacityMeasurement(Schema):
    """Measured by the platform from the machine's telemetry over the period, not claimed by the seller."""

    idle_hours_per_week = fields.Float(required=True)
    utilisation = fields.Float(
        required=True, metadata={"description": "The share of the week it produced, 0-1"}
    )
    oee = fields.Float(
        required=True, allow_none=True, metadata={"description": "null when undefined (no plan)"}
    )
    mtbf_hours = fields.Float(
        required=True, allow_none=True, metadata={"description": "null when it never failed in the period"}
    )
    start = fields.DateTime(required=True)
    end = fields.DateTime(required=True)
    measured_at = fields.DateTime(required=True)
    idle_hours_next_week = fields.Float(
        required=True,
        metadata={
            "description": "Hours the machine may be expected to stand idle in the listing's own free slots of "
            "the coming week (from the next whole hour, 168 hours): each counts the idle seconds measured of "
            "its hour of the week, in the zone of the machine's site"
        },
    )


class Listing(Schema):
    id = fields.UUID(required=True)
    seller_id = fields.UUID(required=True)
    kind = fields.String(required=True, validate=validate.OneOf(LISTING_KINDS))
    title = fields.String(required=True)
    description = fields.String(required=True)
    category = fields.String(required=True)
    price = fields.Integer(required=True, metadata=MONEY_DOC)
    currency = fields.String(required=True)
    unit = fields.String(required=True, validate=validate.OneOf(UNITS))
    min_order_quantity = fields.Integer(required=True)
    lead_time_days = fields.Integer(required=True)
    ship_from = fields.String(required=True)
    status = fields.String(required=True, validate=validate.OneOf(LISTING_STATUSES))
    version = fields.Integer(required=True)
    created_at = fields.DateTime(required=True)
    updated_at = fields.DateTime(required=True)
    device_id = fields.String(required=True, metadata={"description": "empty but for capacity"})
    stock = fields.Integer(required=True, allow_none=True, metadata={"description": "null but for products"})
    measured = fields.Nested(
        CapacityMeasurement,
        required=True,
        allow_none=True,
        metadata={"description": "null but for capacity whose device the platform measured for its seller"},
    )


class ListingPatch(Patch):
    title = text(200, required=False)
    description = text(5000, required=False)
    price = money(required=False)
    lead_time_days = count(0, INT32_MAX)
    min_order_quantity = count()
    stock = count(0, metadata={"description": "Products only"})


class ListingStatusChange(Schema):
    status = fields.String(
        required=True,
        validate=validate.OneOf(LISTING_STATUSES),
        metadata={"description": "draft -> published <-> paused, and from any to closed, which is final"},
    )


class ListingSearchQuery(PageQuery):
    category = category_field(load_default=None)
    kind = fields.String(load_default=None, validate=validate.OneOf(LISTING_KINDS))
    ship_from = fields.String(
        load_default=None,
        validate=REGION_RULE,
        metadata={"description": "A country matches its subdivisions"},
    )
    currency = currency_field(load_default=None)
    min_price = money(required=False, minimum=0)
    max_price = money(required=False, minimum=0)
    text = fields.String(
        load_default="",
        validate=validate.Length(max=200),
        metadata={"description": "Text the title contains, ignoring case"},
    )
    order_by = fields.String(
        load_default="-created_at", validate=validate.OneOf(("-created_at", "price", "-price"))
    )
    # Bounds on what the platform measured; any of them excludes unmeasured listings.
    min_idle_hours_per_week = _measured_bound("Idle hours of the average week the device has at least")
    min_oee = _measured_bound("The device's measured OEE (0-1) at least")
    min_mtbf_hours = _measured_bound("The device's measured mean time between failures, in hours, at least")
    min_idle_hours_next_week = _measured_bound(
        "Idle hours measured of the listing's own free slots in the coming week at least", 168
    )


class OwnListingsQuery(PageQuery):
    status = fields.String(load_default=None, validate=validate.OneOf(LISTING_STATUSES))


class ListingList(Schema):
    items = fields.List(fields.Nested(Listing), required=True)
    next_cursor = fields.String(required=True, metadata={"description": "empty on the last page"})


class AvailabilityAdded(Schema):
    opened = fields.Integer(required=True, metadata={"description": "Slots that were not open already"})


class Slot(Schema):
    starts_at = fields.DateTime(required=True)
    ends_at = fields.DateTime(required=True)


class SlotList(Schema):
    items = fields.List(fields.Nested(Slot), required=True)


class RfqCreate(Schema):
    category = category_field(required=True)
    title = text(200)
    specification = text(10_000, required=False, load_default="")
    quantity = count(required=True)
    unit = fields.String(required=True, validate=validate.OneOf(UNITS))
    currency = currency_field(load_default=None)
    deadline = fields.AwareDateTime(
        required=True, metadata={"description": "RFC 3339; after now, at most 365 days ahead"}
    )


class Quote(Schema):
    id = fields.UUID(required=True)
    rfq_id = fields.UUID(required=True)
    seller_id = fields.UUID(required=True)
    price = fields.Integer(required=True, metadata={"description": "The whole price, in minor units"})
    lead_time_days = fields.Integer(required=True)
    valid_until = fields.DateTime(required=True)
    note = fields.String(required=True)
    status = fields.String(required=True, validate=validate.OneOf(names(pb.QuoteStatus)))
    created_at = fields.DateTime(required=True)


class Rfq(Schema):
    id = fields.UUID(required=True)
    buyer_id = fields.UUID(required=True)
    category = fields.String(required=True)
    title = fields.String(required=True)
    specification = fields.String(required=True)
    quantity = fields.Integer(required=True)
    unit = fields.String(required=True, validate=validate.OneOf(UNITS))
    currency = fields.String(required=True)
    deadline = fields.DateTime(required=True)
    status = fields.String(required=True, validate=validate.OneOf(names(pb.RfqStatus)))
    created_at = fields.DateTime(required=True)


class RfqWithQuotes(Rfq):
    quotes = fields.List(
        fields.Nested(Quote),
        required=True,
        metadata={"description": "Every quote for the buyer; a seller's own for a seller"},
    )


class RfqListQuery(PageQuery):
    category = category_field(load_default=None)


class RfqList(Schema):
    items = fields.List(fields.Nested(Rfq), required=True)
    next_cursor = fields.String(required=True, metadata={"description": "empty on the last page"})


class QuoteCreate(Schema):
    price = money()
    currency = currency_field("The RFQ's, when given", load_default=None)
    lead_time_days = count(0, 365, load_default=0)
    valid_until = fields.AwareDateTime(
        required=True, metadata={"description": "RFC 3339; after now, at most 90 days ahead"}
    )
    note = text(2000, required=False, load_default="")
