"""Input fields the marketplace's use cases share: whole numbers and prices that are never
coerced, its categories and currencies, and free text."""

from __future__ import annotations

import re
from typing import Any

from marshmallow import ValidationError, fields, validate

from services.marketplace.domain.catalogue import CATEGORIES, CURRENCIES
from services.marketplace.domain.ledger import MAX_AMOUNT

_CONTROL_BUT_LAYOUT = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def whole(low: int, high: int, **kwargs: Any) -> fields.Integer:
    """A whole number from `low` to `high`; booleans, floats and numeric strings are
    refused rather than coerced, as a price of 9.99 or True is a caller's mistake."""
    return fields.Integer(strict=True, validate=validate.Range(min=low, max=high), **kwargs)


def price_field(**kwargs: Any) -> fields.Integer:
    """A price in integer minor units."""
    return whole(1, MAX_AMOUNT, **kwargs)


def category_field(**kwargs: Any) -> fields.String:
    return fields.String(validate=validate.OneOf(CATEGORIES), **kwargs)


def currency_field(**kwargs: Any) -> fields.String:
    return fields.String(validate=validate.OneOf(CURRENCIES), **kwargs)


def printable_prose(value: str) -> bool:
    """Tabs and line breaks belong in free text; NUL and other control characters do not."""
    if _CONTROL_BUT_LAYOUT.search(value):
        raise ValidationError("must not contain control characters other than tabs and line breaks")
    return True


def prose(max_length: int) -> fields.String:
    """Free text of up to `max_length` characters, empty when left out."""
    return fields.String(load_default="", validate=[validate.Length(max=max_length), printable_prose])
