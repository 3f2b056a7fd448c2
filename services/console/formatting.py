"""Money and dates as people of a locale write them, with Babel's data (CLDR)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_datetime
from babel.numbers import format_currency, get_currency_precision


def money(minor_units: int, currency: str, locale: Locale) -> str:
    """An amount kept in the currency's minor units (fen, cents), e.g. 123456 CNY as
    "¥1,234.56" in zh_Hans_CN and "CN¥1,234.56" in en."""
    amount = Decimal(minor_units).scaleb(-get_currency_precision(currency))
    return format_currency(amount, currency, locale=locale)


def moment(value: datetime, time_zone: ZoneInfo, locale: Locale, style: str = "medium") -> str:
    """An instant in the reader's zone; a naive datetime is refused, since its zone is unknown."""
    if value.tzinfo is None:
        raise ValueError("a datetime without a time zone cannot be shown in the reader's")
    return format_datetime(value, style, tzinfo=time_zone, locale=locale)
