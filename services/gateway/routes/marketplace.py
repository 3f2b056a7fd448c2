"""What the marketplace's routes share: the trade scope, their errors, and list handlers."""

from __future__ import annotations

import re
from typing import Any

from gantry.v1 import marketplace_pb2 as pb
from starlette.responses import Response

from services.gateway.clients import call
from services.gateway.endpoints import Call, Endpoint, Handler, json_response
from services.gateway.protojson import page_json, to_message

TRADE = "marketplace:trade"

READ_ERRORS = (401, 403, 404, 422)
LIST_ERRORS = (401, 403, 422)
WRITE_ERRORS = (401, 403, 404, 409, 413, 415, 422)
CHANGE_ERRORS = (*WRITE_ERRORS, 412, 428)


def trade(method: str, path: str, handler: Handler, summary: str, tag: str, **options: Any) -> Endpoint:
    """An endpoint of a tenant's trade."""
    return Endpoint(method, path, handler, summary, tag, scope=options.pop("scope", TRADE), **options)


def page_of(method: str, items: str) -> Handler:
    """The handler of a list: `method` of the marketplace for the caller's tenant, with
    the query's filters and page, answering the page's `items`."""
    request_type = getattr(pb, f"{method}Request")

    async def page(c: Call) -> Response:
        request = to_message(request_type, c.query, tenant_id=c.tenant_id)
        found = await call(getattr(c.backends.marketplace, method), request, field_prefix="page.")
        return json_response(page_json(getattr(found, items), found.page))

    page.__name__ = re.sub(r"(?<!^)(?=[A-Z])", "_", method).lower()
    return page
