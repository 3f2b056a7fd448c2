"""The marketplace pages, for signed-in people whose role trades (`marketplace:trade`, as
the gateway's routes need): listings, requests for quotation and quotes, orders and their
moves, the tenant's accounts; and the platform's figures, as the API shows them."""

from __future__ import annotations

from starlette.routing import Route

from services.console.market import accounts, listings, orders, rfqs
from services.console.pages import Pages
from services.kit.grpc_clients import Backends


def routes(backends: Backends, pages: Pages) -> list[Route]:
    return [
        *listings.routes(backends, pages),
        *rfqs.routes(backends, pages),
        *orders.routes(backends, pages),
        *accounts.routes(backends, pages),
    ]
