"""The marketplace pages' calls: a form's refusal told on the form itself (the fields the
API names, or why the move cannot be made now), any other refusal the page's HTTP error;
and the keyset pages of its lists."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar
from urllib.parse import urlencode

import grpc
from gantry.v1 import common_pb2
from starlette.datastructures import QueryParams
from starlette.requests import Request
from starlette.responses import Response

from services.console.backend import CALL_TIMEOUT_SECONDS, http_error_of
from services.console.market.entry import Entry, Unreadable, refused_fields
from services.console.market.values import CATEGORIES, CURRENCIES, KINDS, UNITS
from services.console.pages import Pages
from services.console.sessions import CSRF_FIELD, Principal

Reply = TypeVar("Reply")
PAGE_SIZE = 25
# What every page of the marketplace may do: trade, as the gateway's routes need.
TRADE = "marketplace:trade"


class Refused(Exception):
    """A move the order's or listing's state forbids now, or a payment the balance cannot
    cover (FAILED_PRECONDITION), or a change made meanwhile by someone else (ABORTED)."""


async def submit(method: Callable[..., Awaitable[Reply]], request: Any) -> Reply:
    """One call of a form: its wrong fields raised as `Unreadable`, a move that cannot be
    made as `Refused`, any other refusal as the page's HTTP error."""
    try:
        return await method(request, timeout=CALL_TIMEOUT_SECONDS)
    except grpc.aio.AioRpcError as error:
        if error.code() == grpc.StatusCode.INVALID_ARGUMENT:
            raise Unreadable(set(refused_fields(error)) or {"form"}) from None
        if error.code() in (grpc.StatusCode.FAILED_PRECONDITION, grpc.StatusCode.ABORTED):
            raise Refused(error.details()) from None
        raise http_error_of(error) from None


Redraw = Callable[..., Awaitable[Response]]


async def submitted(
    entry: Entry, method: Callable[..., Awaitable[Reply]], request: Any, redraw: Redraw
) -> Reply | Response:
    """A form's call, made when every field could be read: the answer, or the form drawn
    again with what went wrong (the unreadable fields and those the API names, 400; a move
    the state forbids, 409)."""
    try:
        entry.check()
        return await submit(method, request)
    except Unreadable as unreadable:
        return await redraw(400, wrong=unreadable.fields, entered=entry.form)
    except Refused:
        return await redraw(409, problem="refused", entered=entry.form)


def page_request(query: QueryParams) -> common_pb2.PageRequest:
    return common_pb2.PageRequest(page_size=PAGE_SIZE, cursor=query.get("cursor", ""))


def pager(path: str, query: QueryParams, filters: tuple[str, ...], next_cursor: str) -> dict[str, str | None]:
    """The links to the list's first page (when not on it) and next page (when there is one),
    with the same filters."""
    kept = [(name, query[name]) for name in filters if query.get(name)]

    def url(cursor: str) -> str:
        pairs = kept + ([("cursor", cursor)] if cursor else [])
        return path + (f"?{urlencode(pairs)}" if pairs else "")

    return {
        "first": url("") if query.get("cursor") else None,
        "next": url(next_cursor) if next_cursor else None,
    }


def renderer(pages: Pages) -> Callable[..., Response]:
    """Renders a marketplace page with what its forms offer (categories, currencies, kinds,
    units) and the session's CSRF token."""

    def render(
        request: Request, principal: Principal, template: str, status: int = 200, **context: Any
    ) -> Response:
        return pages.render(
            request,
            template,
            status,
            principal=principal,
            csrf_field=CSRF_FIELD,
            categories=CATEGORIES,
            currencies=CURRENCIES,
            kinds=KINDS,
            units=UNITS,
            # A form drawn afresh: nothing entered, nothing wrong, nothing refused.
            **({"entered": {}, "wrong": frozenset(), "problem": ""} | context),
        )

    return render


def redraw(render: Callable[..., Response], request: Request, principal: Principal, template: str) -> Redraw:
    """The form page `template` drawn again, as `submitted` does after a refusal."""

    async def again(status: int, **context: Any) -> Response:
        return render(request, principal, template, status, **context)

    return again
