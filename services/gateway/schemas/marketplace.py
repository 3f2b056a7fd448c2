"""What the marketplace's schemas share. Field names are those of
protos/gantry/v1/marketplace.proto, so that the marketplace's field errors name the
body's fields; the marketplace checks what these schemas leave open (categories,
currencies, regions, text content) and refuses what a pattern here lets through, such
as a trailing newline."""

from __future__ import annotations

from typing import Any

from gantry.v1 import marketplace_pb2 as pb
from marshmallow import Schema, fields, validate

from services.gateway.schemas.common import INT64_MAX, names
from services.kit.validation import text

LISTING_KINDS = names(pb.ListingKind)
LISTING_STATUSES = names(pb.ListingStatus)
UNITS = names(pb.Unit)
ORDER_STATES = names(pb.OrderState)

_CATEGORY_RULE = validate.Regexp(
    r"^[a-z_]{1,32}$", error="must be a category in lower case, e.g. cnc_machining or parts"
)
_CATEGORY_DOC = {
    "description": "One of cnc_machining, injection_moulding, casting, sheet_metal, "
    "additive_manufacturing, assembly, testing, parts"
}
_CURRENCY_RULE = validate.Regexp(r"^[A-Z]{3}$", error="must be an ISO 4217 code in capitals, e.g. CNY")
_CURRENCY_DOC = {"description": "ISO 4217: CNY (the default), USD or EUR", "example": "CNY"}
REGION_RULE = validate.Regexp(
    r"^[A-Z]{2}(-[A-Z0-9]{1,3})?$",
    error="must be an ISO 3166-1 alpha-2 country or ISO 3166-2 subdivision in capitals, e.g. CN or CN-32",
)
REGION_DOC = {"description": 'ISO 3166-1 alpha-2 country or ISO 3166-2 subdivision: "CN", "CN-32"'}
DAY_RULE = validate.Regexp(r"^\d{4}-\d{2}-\d{2}$", error="must be a day as YYYY-MM-DD, e.g. 2026-03-01")
MONEY_DOC = {"description": "Integer minor units (fen, cent) of the currency"}


def money(required: bool = True, minimum: int = 1) -> fields.Integer:
    return fields.Integer(
        required=required,
        strict=True,
        validate=validate.Range(min=minimum, max=INT64_MAX),
        metadata=MONEY_DOC,
    )


def category_field(**kwargs: Any) -> fields.String:
    return fields.String(validate=_CATEGORY_RULE, metadata=_CATEGORY_DOC, **kwargs)


def currency_field(description: str = _CURRENCY_DOC["description"], **kwargs: Any) -> fields.String:
    return fields.String(
        validate=_CURRENCY_RULE, metadata={**_CURRENCY_DOC, "description": description}, **kwargs
    )


class Reasoned(Schema):
    """A move of money or of an order, and why."""

    reason = text(500, metadata={"description": "Why, kept with every transfer and change of state"})
