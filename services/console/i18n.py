"""The console's languages: English (the templates' own) and Simplified Chinese from
`translations/`, compiled as the process starts (only the .po files are kept in the
repository), and the choice of one for a request."""

from __future__ import annotations

import gettext
import io
from dataclasses import dataclass
from pathlib import Path

from babel import Locale
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

TRANSLATIONS_DIR = Path(__file__).parent / "translations"
DOMAIN = "messages"
DEFAULT_LOCALE = "en"
# Locale identifiers as Babel names them, which are also the switch's values.
LOCALES = ("en", "zh_Hans_CN")
LOCALE_COOKIE = "gantry_locale"
# Each language's name in itself, as the switch shows it.
LABELS = {"en": "English", "zh_Hans_CN": "简体中文"}


@dataclass(frozen=True)
class Language:
    code: str
    locale: Locale
    translations: gettext.NullTranslations

    @property
    def label(self) -> str:
        return LABELS[self.code]

    @property
    def html_lang(self) -> str:
        """BCP 47, for `<html lang>`: "en", "zh-Hans-CN"."""
        return self.code.replace("_", "-")


def load_languages(directory: Path = TRANSLATIONS_DIR) -> dict[str, Language]:
    return {code: Language(code, Locale.parse(code), _translations(directory, code)) for code in LOCALES}


def _translations(directory: Path, code: str) -> gettext.NullTranslations:
    if code == DEFAULT_LOCALE:
        return gettext.NullTranslations()
    with (directory / code / "LC_MESSAGES" / f"{DOMAIN}.po").open("rb") as po:
        catalog = read_po(po, locale=code)
    compiled = io.BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    return gettext.GNUTranslations(compiled)


def choose(cookie: str | None, accept_language: str) -> str:
    """The switch's choice (a cookie) if it names a language of the console, else the
    browser's most preferred one the console speaks, else English."""
    if cookie in LOCALES:
        return cookie
    for tag in _preferred(accept_language):
        primary = tag.split("-")[0]
        if primary == "zh":
            # Simplified Chinese is the only Chinese the console has; readers of Traditional
            # Chinese read it more easily than English.
            return "zh_Hans_CN"
        if primary == "en":
            return "en"
    return DEFAULT_LOCALE


def _preferred(accept_language: str) -> list[str]:
    """The language tags of an Accept-Language header, most wanted first (RFC 9110 §12.5.4);
    tags refused with q=0, and malformed weights, left out."""
    weighted = []
    for position, part in enumerate(accept_language.split(",")):
        tag, _, parameters = part.strip().partition(";")
        weight = 1.0
        if parameters.strip().startswith("q="):
            try:
                weight = float(parameters.strip()[2:])
            except ValueError:
                continue
        if tag and weight > 0:
            weighted.append((-weight, position, tag.strip().lower()))
    return [tag for _, _, tag in sorted(weighted)]
