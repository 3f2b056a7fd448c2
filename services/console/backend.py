"""The plant pages' calls to the services: a gRPC status becomes the page's HTTP error, so
that bad input is a 400 and another tenant's object a 404, never a 500."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import grpc
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from services.console.forms import read_form
from services.console.sessions import CSRF_FIELD, Page, Principal, check_csrf, requires
from services.kit.grpc_clients import Backends

CALL_TIMEOUT_SECONDS = 5.0
CSRF_HEADER = "x-csrf-token"
# A comment of 2,000 Chinese characters is 18,000 bytes once urlencoded.
# A comment of 2,000 Chinese characters is about 18 KB once encoded.
FORM_LIMIT_BYTES = 32_768

Reply = TypeVar("Reply")

# What a backend's refusal means to a reader of the page.
HTTP_STATUS_OF = {
    grpc.StatusCode.INVALID_ARGUMENT: 400,
    grpc.StatusCode.OUT_OF_RANGE: 400,
    grpc.StatusCode.NOT_FOUND: 404,
    grpc.StatusCode.PERMISSION_DENIED: 403,
    grpc.StatusCode.ALREADY_EXISTS: 409,
    grpc.StatusCode.FAILED_PRECONDITION: 409,
    grpc.StatusCode.ABORTED: 409,
    grpc.StatusCode.RESOURCE_EXHAUSTED: 429,
    grpc.StatusCode.UNAVAILABLE: 503,
    grpc.StatusCode.DEADLINE_EXCEEDED: 503,
}


async def ask(method: Callable[..., Awaitable[Reply]], request: Any) -> Reply:
    """One call; its refusal raised as the HTTP error the page answers with."""
    try:
        return await method(request, timeout=CALL_TIMEOUT_SECONDS)
    except grpc.aio.AioRpcError as error:
        status = HTTP_STATUS_OF.get(error.code())
        if status is None:
            raise
        raise HTTPException(status, error.details() or error.code().name) from None


def object_id(request: Request, name: str) -> str:
    """An id of the path: anything but a UUID names nothing (404, not a backend's 400)."""
    value = request.path_params[name]
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise HTTPException(404, f"no such {name}") from None


async def checked_form(request: Request, principal: Principal, max_fields: int = 8) -> dict[str, str]:
    """A form of a signed-in person, refused (403) unless it carries the session's CSRF
    token, as a field or, from htmx, as the `X-CSRF-Token` header."""
    form = await read_form(request, max_fields, FORM_LIMIT_BYTES)
    check_csrf(principal, request.headers.get(CSRF_HEADER) or form.get(CSRF_FIELD, ""))
    return form


def for_tenant(backends: Backends, scope: str) -> Callable[[Page], Callable[[Request], Awaitable[Response]]]:
    """`requires`, for the pages of a tenant's plant: an operator, who has no tenant, is
    refused (403) rather than sent to a backend with none."""

    def wrap(page: Page) -> Callable[[Request], Awaitable[Response]]:
        async def tenant_page(request: Request, principal: Principal) -> Response:
            if not principal.tenant_id:
                raise HTTPException(403, "these pages are a tenant's")
            return await page(request, principal)

        return requires(backends, scope)(tenant_page)

    return wrap
