"""Money and dates as the console shows them, per locale and reader's time zone."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from babel import Locale

from services.console.formatting import moment, money
from services.console.i18n import load_languages
from services.console.pages import Pages
from services.kit.web_assets import HashedFiles

ENGLISH = Locale.parse("en")
CHINESE = Locale.parse("zh_Hans_CN")


def test_fen_are_yuan_with_two_decimals_in_either_language() -> None:
    assert money(123456, "CNY", CHINESE) == "¥1,234.56"
    # Where the yuan is not the local currency, its sign says which yuan it is.
    assert money(123456, "CNY", ENGLISH) == "CN¥1,234.56"


def test_a_currency_without_minor_units_is_not_divided() -> None:
    assert money(123456, "JPY", ENGLISH) == "¥123,456"
    assert money(123456, "JPY", CHINESE) == "JP¥123,456"


def test_negative_and_small_amounts_keep_their_cents() -> None:
    assert money(-5, "USD", ENGLISH) == "-$0.05"
    assert money(-5, "USD", CHINESE) == "-US$0.05"


def test_an_instant_is_shown_in_the_readers_zone_and_language() -> None:
    evening_in_utc = datetime(2026, 12, 6, 20, 0, tzinfo=UTC)
    shanghai = ZoneInfo("Asia/Shanghai")
    assert moment(evening_in_utc, shanghai, CHINESE) == "2026年12月7日 04:00:00"
    assert moment(evening_in_utc, shanghai, ENGLISH) == "Dec 7, 2026, 4:00:00\u202fAM"
    assert moment(evening_in_utc, ZoneInfo("Europe/Berlin"), ENGLISH, "short") == "12/6/26, 9:00\u202fPM"


def test_a_datetime_without_zone_is_refused() -> None:
    with pytest.raises(ValueError, match="time zone"):
        moment(datetime(2026, 12, 6, 20, 0), ZoneInfo("UTC"), ENGLISH)


def test_templates_format_with_the_pages_language_and_the_readers_zone() -> None:
    files = HashedFiles("/static", [])
    pages = Pages(load_languages(), files, "UTC", {})
    template = "{{ 123456|money('CNY') }} | {{ at|moment('short') }}"
    evening_in_utc = datetime(2026, 12, 6, 20, 0, tzinfo=UTC)
    shanghai = ZoneInfo("Asia/Shanghai")
    chinese = pages.environments["zh_Hans_CN"].from_string(template)
    english = pages.environments["en"].from_string(template)
    assert chinese.render(at=evening_in_utc, time_zone=shanghai) == "¥1,234.56 | 2026/12/7 04:00"
    assert english.render(at=evening_in_utc, time_zone=shanghai) == "CN¥1,234.56 | 12/7/26, 4:00\u202fAM"
