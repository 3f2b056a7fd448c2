"""What people type into the marketplace's forms, as the API takes it: amounts in the
currency's minor units (exactly, by Decimal: "1234.56" CNY is 123456 fen), whole numbers,
and days in the reader's zone. A field that cannot be read is named, as the API names
the fields it refuses, so that the page marks both the same way."""

from __future__ import annotations

import uuid
from datetime import date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from zoneinfo import ZoneInfo

import grpc
from babel.numbers import get_currency_precision
from google.protobuf.timestamp_pb2 import Timestamp

from services.kit.grpc_errors import field_violations

MAX_INT64 = 2**63 - 1  # what the API's amounts and quantities can hold


class Unreadable(ValueError):
    """Fields of a form that are not what they must be, by name."""

    def __init__(self, fields: set[str]) -> None:
        super().__init__(", ".join(sorted(fields)))
        self.fields = frozenset(fields)


def refused_fields(error: grpc.aio.AioRpcError) -> frozenset[str]:
    """The fields an INVALID_ARGUMENT names (`page.cursor` as `cursor`, `slots[1]` as
    `slots`), or none."""
    return frozenset(v.field.split("[")[0].rsplit(".", 1)[-1] for v in field_violations(error))


class Entry:
    """A submitted form read field by field; every field that cannot be read is kept, so
    that the page names them all at once (`check` raises them)."""

    def __init__(self, form: dict[str, str]) -> None:
        self.form = form
        self.wrong: set[str] = set()

    def text(self, name: str) -> str:
        return self.form.get(name, "").strip()

    def amount(self, name: str, currency: str) -> int:
        """Minor units of `currency` from an amount written in its major units: exactly,
        or the field is wrong (more decimals than the currency has, beyond 64 bits). A
        currency Babel does not know (the form's own field says so) has CLDR's default
        precision."""
        try:
            minor = Decimal(self.text(name).replace(",", "")).scaleb(get_currency_precision(currency))
        except InvalidOperation:
            minor = Decimal("NaN")
        return self._within_64_bits(name, minor)

    def whole(self, name: str, default: int | None = None) -> int:
        written = self.text(name)
        if not written and default is not None:
            return default
        if written.isascii() and written.lstrip("-").isdigit():
            return self._within_64_bits(name, Decimal(written))
        self.wrong.add(name)
        return 0

    def _within_64_bits(self, name: str, number: Decimal) -> int:
        if number.is_finite() and number == number.to_integral_value() and abs(number) <= MAX_INT64:
            return int(number)
        self.wrong.add(name)
        return 0

    def choice(self, name: str, choices: tuple[str, ...]) -> str:
        chosen = self.text(name)
        if chosen not in choices:
            self.wrong.add(name)
        return chosen

    def day_end(self, name: str, zone: ZoneInfo) -> Timestamp:
        """The end of the day chosen (a date input's YYYY-MM-DD) in the reader's zone."""
        stamp = Timestamp()
        try:
            day = date.fromisoformat(self.text(name))
        except ValueError:
            self.wrong.add(name)
            return stamp
        stamp.FromDatetime(datetime.combine(day + timedelta(days=1), time(), zone) - timedelta(seconds=1))
        return stamp

    def moment(self, name: str, zone: ZoneInfo) -> Timestamp:
        """The instant a datetime-local input names (YYYY-MM-DDTHH:MM) in the reader's zone."""
        stamp = Timestamp()
        try:
            written = datetime.fromisoformat(self.text(name))
        except ValueError:
            self.wrong.add(name)
            return stamp
        if written.tzinfo is not None:
            self.wrong.add(name)
            return stamp
        stamp.FromDatetime(written.replace(tzinfo=zone))
        return stamp

    def check(self) -> None:
        if self.wrong:
            raise Unreadable(self.wrong)


def idempotency_key() -> str:
    """The key of one rendered form that moves money or places an order: sent twice (a
    double click, a reload), it makes the move once."""
    return uuid.uuid4().hex
