"""The console's languages: which one a request gets, and a catalogue that leaves no
string of the templates untranslated."""

from __future__ import annotations

from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from services.console.i18n import LOCALES, TRANSLATIONS_DIR, choose, load_languages

CONSOLE_DIR = Path("services/console")


@pytest.mark.parametrize(
    ("cookie", "accept_language", "chosen"),
    [
        (None, "", "en"),
        (None, "zh-CN,zh;q=0.9,en;q=0.8", "zh_Hans_CN"),
        (None, "zh-Hans", "zh_Hans_CN"),
        (None, "en-GB,en;q=0.9", "en"),
        # The most wanted language the console speaks, whatever the header's order.
        (None, "en;q=0.5, zh-CN;q=0.9", "zh_Hans_CN"),
        (None, "fr-FR, de;q=0.9, zh;q=0.3", "zh_Hans_CN"),
        (None, "fr-FR, de;q=0.9", "en"),
        # q=0 means "not this one"; a malformed weight is ignored, not an error.
        (None, "zh;q=0, en;q=0.1", "en"),
        (None, "zh;q=abc, en", "en"),
        # The switch wins over the browser; a cookie naming no language of the console does not.
        ("en", "zh-CN", "en"),
        ("zh_Hans_CN", "en-US", "zh_Hans_CN"),
        ("klingon", "zh-CN", "zh_Hans_CN"),
    ],
)
def test_the_language_of_a_request(cookie: str | None, accept_language: str, chosen: str) -> None:
    assert choose(cookie, accept_language) == chosen


def template_messages() -> set[str]:
    """Every message of the templates, as `pybabel extract` finds them with the console's
    configuration."""
    method_map = [("**/templates/**.html", "jinja2"), ("**/templates/mail/**.txt", "jinja2")]
    return {
        message if isinstance(message, str) else message[0]
        for _file, _line, message, _comments, _context in extract_from_dir(str(CONSOLE_DIR), method_map)
    }


@pytest.mark.parametrize("locale", [code for code in LOCALES if code != "en"])
def test_every_template_string_has_a_translation(locale: str) -> None:
    with (TRANSLATIONS_DIR / locale / "LC_MESSAGES" / "messages.po").open("rb") as po:
        catalog = read_po(po, locale=locale)
    translated = {m.id for m in catalog if m.id and m.string and not m.fuzzy}
    messages = template_messages()
    assert len(messages) > 20, "the extraction found the templates' messages"
    assert sorted(messages - translated) == []


def test_the_catalogues_compile_and_translate() -> None:
    languages = load_languages()
    assert languages["zh_Hans_CN"].translations.gettext("Sign in") == "登录"
    assert languages["en"].translations.gettext("Sign in") == "Sign in"
    assert languages["zh_Hans_CN"].html_lang == "zh-Hans-CN"
