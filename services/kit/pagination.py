"""Opaque cursors for keyset pagination, and page-size rules shared by every list call."""

from __future__ import annotations

import base64
import binascii
import hashlib
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

import orjson

from services.kit.errors import FieldViolation, InvalidArgument

Item = TypeVar("Item")

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 1000


def page_size(requested: int) -> int:
    """The page size to serve: the default for 0, InvalidArgument when out of range."""
    if requested == 0:
        return DEFAULT_PAGE_SIZE
    if not 1 <= requested <= MAX_PAGE_SIZE:
        raise InvalidArgument([FieldViolation("page.page_size", f"must be between 1 and {MAX_PAGE_SIZE}")])
    return requested


def _fingerprint(query: dict[str, Any]) -> str:
    return hashlib.sha256(orjson.dumps(query, option=orjson.OPT_SORT_KEYS)).hexdigest()[:16]


def encode_cursor(position: list[Any], query: dict[str, Any]) -> str:
    """A cursor after `position` (the sort key of the last item) of the list `query` asked for."""
    payload = orjson.dumps({"p": position, "q": _fingerprint(query)})
    return base64.urlsafe_b64encode(payload).decode().rstrip("=")


def decode_cursor(cursor: str, query: dict[str, Any]) -> list[Any] | None:
    """The position a cursor continues from; None for the first page.

    A cursor only continues the list it came from: used with other filters or
    another order it is refused rather than silently skipping or repeating items.
    """
    if not cursor:
        return None
    try:
        payload = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        position, fingerprint = payload["p"], payload["q"]
    except (binascii.Error, ValueError, TypeError, KeyError):
        raise InvalidArgument([FieldViolation("page.cursor", "not a cursor of this list")]) from None
    if fingerprint != _fingerprint(query) or not isinstance(position, list):
        raise InvalidArgument([FieldViolation("page.cursor", "not a cursor of this list")])
    return position


def time_and_id(position: list[Any] | None) -> tuple[datetime, str] | None:
    """The (time, id) a decoded position names, for lists ordered by a time then an id;
    None for the first page. A cursor's fingerprint is no signature: its position is
    checked like any other input, so that a forged one fails here, not in the database."""
    if position is None:
        return None
    try:
        at, item_id = position
        instant = datetime.fromisoformat(at)
        if instant.tzinfo is None:
            raise ValueError("a time without its zone")
        return instant.astimezone(UTC), str(uuid.UUID(item_id))
    except (ValueError, TypeError, AttributeError, OverflowError):
        raise InvalidArgument([FieldViolation("page.cursor", "not a cursor of this list")]) from None


def keyset_page(
    found: Sequence[Item], limit: int, position_of: Callable[[Item], list[Any]], listing: dict[str, Any]
) -> tuple[list[Item], str]:
    """The page of `found`, fetched with one item more than `limit` to learn whether
    another page follows, and the cursor after its last item ("" on the last page)."""
    page = list(found[:limit])
    if len(found) <= limit:
        return page, ""
    return page, encode_cursor(position_of(page[-1]), listing)
