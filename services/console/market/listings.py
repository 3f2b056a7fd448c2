"""Listings: every seller's published ones searched a page at a time (the marketplace's
keyset cursor), the tenant's own of every status, a listing drafted from a form whose
wrong fields the page marks, published, paused and closed, its machine-hours opened, and
ordered (or its free hours booked) by a buyer."""

from __future__ import annotations

import functools

from gantry.v1 import marketplace_pb2 as pb
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from services.console.backend import ask, checked_form, for_tenant, object_id
from services.console.market.calls import (
    TRADE,
    Refused,
    page_request,
    pager,
    redraw,
    renderer,
    submit,
    submitted,
)
from services.console.market.capacity import booked_hours, free_hours
from services.console.market.entry import Entry, Unreadable, idempotency_key
from services.console.market.values import (
    CURRENCIES,
    KINDS,
    ORDERABLE_KINDS,
    UNITS,
    listing_view,
    value_of,
)
from services.console.pages import Pages
from services.console.sessions import Principal
from services.kit.grpc_clients import Backends

SEARCH_FILTERS = ("q", "category", "kind", "ship_from", "currency", "min_price", "max_price", "order_by")
ORDERS_BY = ("-created_at", "price", "-price")
STATUSES = ("draft", "published", "paused", "closed")
# The moves of a listing's lifecycle each status offers its seller.
STATUS_MOVES = {
    "draft": ("published", "closed"),
    "published": ("paused", "closed"),
    "paused": ("published", "closed"),
    "closed": (),
}
LISTING_FIELDS = 16


def routes(backends: Backends, pages: Pages) -> list[Route]:
    render = renderer(pages)

    @for_tenant(backends, TRADE)
    async def catalogue(request: Request, principal: Principal) -> Response:
        found = await ask(backends.marketplace.SearchListings, _search(principal.tenant_id, request))
        return render(
            request,
            principal,
            "market/listings.html",
            listings=[listing_view(listing, principal.tenant_id) for listing in found.listings],
            chosen={name: request.query_params.get(name, "") for name in SEARCH_FILTERS},
            orders_by=ORDERS_BY,
            pages=pager("/market/listings", request.query_params, SEARCH_FILTERS, found.page.next_cursor),
        )

    @for_tenant(backends, TRADE)
    async def own_listings(request: Request, principal: Principal) -> Response:
        status = request.query_params.get("status", "")
        if status and status not in STATUSES:
            raise HTTPException(400, f"status must be one of {', '.join(STATUSES)}")
        found = await ask(
            backends.marketplace.ListOwnListings,
            pb.ListOwnListingsRequest(
                tenant_id=principal.tenant_id,
                page=page_request(request.query_params),
                status=value_of(pb.ListingStatus, status) if status else 0,
            ),
        )
        return render(
            request,
            principal,
            "market/own_listings.html",
            listings=[listing_view(listing, principal.tenant_id) for listing in found.listings],
            statuses=STATUSES,
            chosen_status=status,
            pages=pager("/market/listings/mine", request.query_params, ("status",), found.page.next_cursor),
        )

    @for_tenant(backends, TRADE)
    async def new_listing(request: Request, principal: Principal) -> Response:
        return render(request, principal, "market/listing_new.html")

    @for_tenant(backends, TRADE)
    async def create_listing(request: Request, principal: Principal) -> Response:
        entry = Entry(await checked_form(request, principal, max_fields=LISTING_FIELDS))
        listing = await submitted(
            entry,
            backends.marketplace.CreateListing,
            _draft(principal.tenant_id, entry),
            redraw(render, request, principal, "market/listing_new.html"),
        )
        if isinstance(listing, Response):
            return listing
        return RedirectResponse(f"/market/listings/{listing.id}", status_code=303)

    async def render_listing(
        request: Request, principal: Principal, status: int = 200, **problem: object
    ) -> Response:
        listing = await ask(
            backends.marketplace.GetListing,
            pb.GetListingRequest(tenant_id=principal.tenant_id, listing_id=object_id(request, "listing_id")),
        )
        view = listing_view(listing, principal.tenant_id)
        buyable = not view["own"] and view["status"] == "published"
        bookable = buyable and view["kind"] == "capacity"
        return render(
            request,
            principal,
            "market/listing.html",
            status,
            listing=view,
            status_moves=STATUS_MOVES[view["status"]] if view["own"] else (),
            orderable=buyable and view["kind"] in ORDERABLE_KINDS,
            free_hours=await free_hours(backends, principal.tenant_id, listing.id) if bookable else None,
            idempotency_key=idempotency_key(),
            **problem,
        )

    @for_tenant(backends, TRADE)
    async def listing_page(request: Request, principal: Principal) -> Response:
        return await render_listing(request, principal)

    @for_tenant(backends, TRADE)
    async def change_status(request: Request, principal: Principal) -> Response:
        form = await checked_form(request, principal)
        listing_id = object_id(request, "listing_id")
        entry = Entry(form)
        wanted = entry.choice("status", STATUSES)
        version = entry.whole("expected_version")
        try:
            entry.check()
            await submit(
                backends.marketplace.ChangeListingStatus,
                pb.ChangeListingStatusRequest(
                    tenant_id=principal.tenant_id,
                    listing_id=listing_id,
                    expected_version=version,
                    status=value_of(pb.ListingStatus, wanted),
                ),
            )
        except Unreadable:
            raise HTTPException(400, "choose a status of the listing's") from None
        except Refused:
            return await render_listing(request, principal, 409, problem="refused")
        return RedirectResponse(f"/market/listings/{listing_id}", status_code=303)

    @for_tenant(backends, TRADE)
    async def place_order(request: Request, principal: Principal) -> Response:
        form = await checked_form(request, principal)
        entry = Entry(form)
        quantity = entry.whole("quantity")
        slots = booked_hours(entry, quantity)
        order = await submitted(
            entry,
            backends.marketplace.PlaceOrder,
            pb.PlaceOrderRequest(
                tenant_id=principal.tenant_id,
                idempotency_key=entry.text("idempotency_key"),
                reason=entry.text("reason"),
                listing_id=object_id(request, "listing_id"),
                quantity=quantity,
                slots=slots,
            ),
            functools.partial(render_listing, request, principal),
        )
        if isinstance(order, Response):
            return order
        return RedirectResponse(f"/market/orders/{order.id}", status_code=303)

    @for_tenant(backends, TRADE)
    async def open_hours(request: Request, principal: Principal) -> Response:
        """The seller opens the hourly slots of a period of its capacity listing."""
        form = await checked_form(request, principal)
        listing_id = object_id(request, "listing_id")
        entry = Entry(form)
        zone = pages.time_zone_of(request)
        period = pb.AddAvailabilityRequest(
            tenant_id=principal.tenant_id,
            listing_id=listing_id,
            start=entry.moment("start", zone),
            end=entry.moment("end", zone),
        )
        answer = await submitted(
            entry,
            backends.marketplace.AddAvailability,
            period,
            functools.partial(render_listing, request, principal),
        )
        if isinstance(answer, Response):
            return answer
        return RedirectResponse(f"/market/listings/{listing_id}", status_code=303)

    return [
        Route("/market/listings", catalogue, name="market_listings"),
        Route("/market/listings", create_listing, methods=["POST"], name="create_listing"),
        Route("/market/listings/mine", own_listings, name="own_listings"),
        Route("/market/listings/new", new_listing, name="new_listing"),
        Route("/market/listings/{listing_id}", listing_page, name="market_listing"),
        Route("/market/listings/{listing_id}/status", change_status, methods=["POST"], name="listing_status"),
        Route("/market/listings/{listing_id}/orders", place_order, methods=["POST"], name="order_listing"),
        Route("/market/listings/{listing_id}/hours", open_hours, methods=["POST"], name="open_hours"),
    ]


def _search(tenant_id: str, request: Request) -> pb.SearchListingsRequest:
    """The marketplace's search for the page's filters; a filter it cannot be is a 400."""
    query = request.query_params
    entry = Entry(dict(query))
    kind = entry.choice("kind", ("", *KINDS))
    order_by = entry.choice("order_by", ("", *ORDERS_BY))
    currency = entry.choice("currency", ("", *CURRENCIES))
    prices = {
        name: entry.amount(name, currency or CURRENCIES[0])
        for name in ("min_price", "max_price")
        if entry.text(name)
    }
    try:
        entry.check()
    except Unreadable as unreadable:
        raise HTTPException(400, f"these filters cannot be read: {unreadable}") from None
    return pb.SearchListingsRequest(
        tenant_id=tenant_id,
        page=page_request(query),
        text=entry.text("q"),
        category=entry.text("category"),
        kind=value_of(pb.ListingKind, kind) if kind else 0,
        ship_from=entry.text("ship_from").upper(),
        currency=currency,
        order_by=order_by or ORDERS_BY[0],
        **prices,
    )


def _draft(tenant_id: str, entry: Entry) -> pb.CreateListingRequest:
    """The listing a form drafts; the fields that cannot be read kept in `entry`."""
    currency = entry.choice("currency", CURRENCIES)
    kind = entry.choice("kind", KINDS)
    unit = entry.choice("unit", UNITS)
    request = pb.CreateListingRequest(
        tenant_id=tenant_id,
        kind=value_of(pb.ListingKind, kind) if kind in KINDS else 0,
        title=entry.text("title"),
        description=entry.form.get("description", ""),
        category=entry.text("category"),
        price=entry.amount("price", currency),
        currency=currency,
        unit=value_of(pb.Unit, unit) if unit in UNITS else 0,
        min_order_quantity=entry.whole("min_order_quantity", default=1),
        lead_time_days=entry.whole("lead_time_days", default=0),
        ship_from=entry.text("ship_from").upper(),
        device_id=entry.text("device_id") if kind == "capacity" else "",
    )
    if kind == "product":
        request.stock = entry.whole("stock")
    return request
