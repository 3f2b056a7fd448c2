"""Rendering: one Jinja2 environment per language (autoescaped, its catalogue and formatters
installed), and what each page knows of its request (language, reader's time zone)."""

from __future__ import annotations

import functools
import zoneinfo
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from jinja2 import Environment, FileSystemLoader, StrictUndefined, pass_context
from jinja2.runtime import Context
from starlette.requests import Request
from starlette.responses import HTMLResponse

from services.console import formatting
from services.console.i18n import LOCALE_COOKIE, Language, choose
from services.kit.web_assets import HashedFiles

TEMPLATES_DIR = Path(__file__).parent / "templates"
TIME_ZONE_COOKIE = "gantry_tz"


class Pages:
    def __init__(
        self,
        languages: dict[str, Language],
        assets: HashedFiles,
        default_time_zone: str,
        page_globals: dict[str, Any],
    ) -> None:
        self.languages = languages
        self.default_time_zone = zoneinfo.ZoneInfo(default_time_zone)
        self.environments = {
            code: _environment(language, languages, assets.url, page_globals)
            for code, language in languages.items()
        }

    def language_of(self, request: Request) -> Language:
        code = choose(request.cookies.get(LOCALE_COOKIE), request.headers.get("accept-language", ""))
        return self.languages[code]

    def time_zone_of(self, request: Request) -> zoneinfo.ZoneInfo:
        """The zone the browser reported (console.js), when it is one the console knows."""
        # console.js writes it URL-encoded ("Asia%2FShanghai"), which cookie parsing keeps.
        offered = unquote(request.cookies.get(TIME_ZONE_COOKIE, ""))
        return zoneinfo.ZoneInfo(offered) if offered in _known_zones() else self.default_time_zone

    def render(self, request: Request, template: str, http_status: int = 200, **context: Any) -> HTMLResponse:
        language = self.language_of(request)
        page = self.environments[language.code].get_template(template)
        html = page.render(request=request, time_zone=self.time_zone_of(request), **context)
        return HTMLResponse(
            html,
            http_status,
            headers={
                "Content-Language": language.html_lang,
                # The same URL answers in either language and, later, per person.
                "Vary": "Accept-Language, Cookie",
                "Cache-Control": "no-cache, private",
            },
        )


def _environment(
    language: Language,
    languages: dict[str, Language],
    asset: Callable[[str], str],
    page_globals: dict[str, Any],
) -> Environment:
    environment = Environment(
        loader=FileSystemLoader(TEMPLATES_DIR),
        autoescape=True,
        undefined=StrictUndefined,
        extensions=["jinja2.ext.i18n"],
    )
    environment.install_gettext_translations(language.translations, newstyle=True)  # type: ignore[attr-defined]
    environment.globals.update(page_globals, asset=asset, language=language, languages=languages.values())
    environment.filters["money"] = functools.partial(_money, locale=language.locale)
    environment.filters["moment"] = pass_context(functools.partial(_moment, locale=language.locale))
    return environment


def _money(minor_units: int, currency: str, locale: Any) -> str:
    return formatting.money(minor_units, currency, locale)


def _moment(context: Context, value: datetime, style: str = "medium", locale: Any = None) -> str:
    return formatting.moment(value, context["time_zone"], locale, style)


@functools.cache
def _known_zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())
