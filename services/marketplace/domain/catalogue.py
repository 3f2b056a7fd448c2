"""What the marketplace trades: kinds of listings, categories, units and currencies."""

from __future__ import annotations

from enum import StrEnum

from services.marketplace.domain.ledger import CURRENCIES

__all__ = ["CATEGORIES", "CURRENCIES", "ListingKind", "ListingStatus", "Unit"]


class ListingKind(StrEnum):
    CAPABILITY = "capability"  # a manufacturing service
    CAPACITY = "capacity"  # machine-hours of one registered device, booked by slot
    PRODUCT = "product"  # parts and spare parts, with stock


class ListingStatus(StrEnum):
    DRAFT = "draft"
    PUBLISHED = "published"
    PAUSED = "paused"
    CLOSED = "closed"


class Unit(StrEnum):
    PIECE = "piece"
    HOUR = "hour"
    KG = "kg"


CATEGORIES = (
    "cnc_machining",
    "injection_moulding",
    "casting",
    "sheet_metal",
    "additive_manufacturing",
    "assembly",
    "testing",
    "parts",
)
