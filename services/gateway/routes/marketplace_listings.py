"""The marketplace's listings, requests for quotation and quotes."""

from __future__ import annotations

from gantry.v1 import marketplace_pb2 as pb
from starlette.responses import Response

from services.gateway.clients import call
from services.gateway.endpoints import Call, etag, json_response
from services.gateway.protojson import to_json, to_message
from services.gateway.routes.marketplace import (
    CHANGE_ERRORS,
    LIST_ERRORS,
    READ_ERRORS,
    WRITE_ERRORS,
    page_of,
    trade,
)
from services.gateway.schemas import marketplace_listings as schemas
from services.gateway.schemas.common import PageQuery, Period


def _listing_response(listing: pb.Listing, status: int = 200) -> Response:
    headers = etag(listing.version)
    if status == 201:
        headers["Location"] = f"/v1/listings/{listing.id}"
    return json_response(to_json(listing), status, headers)


async def create_listing(c: Call) -> Response:
    request = to_message(pb.CreateListingRequest, c.body, tenant_id=c.tenant_id)
    return _listing_response(await call(c.backends.marketplace.CreateListing, request), 201)


async def _listing(c: Call) -> pb.Listing:
    request = pb.GetListingRequest(tenant_id=c.tenant_id, listing_id=c.path("listing_id"))
    return await call(c.backends.marketplace.GetListing, request)


async def _listing_version(c: Call) -> int:
    return (await _listing(c)).version


async def get_listing(c: Call) -> Response:
    return _listing_response(await _listing(c))


async def update_listing(c: Call) -> Response:
    request = await c.change(
        pb.UpdateListingRequest,
        partial=True,
        current=_listing_version,
        tenant_id=c.tenant_id,
        listing_id=c.path("listing_id"),
    )
    return _listing_response(await call(c.backends.marketplace.UpdateListing, request))


async def change_listing_status(c: Call) -> Response:
    request = await c.change(
        pb.ChangeListingStatusRequest,
        partial=False,
        current=_listing_version,
        tenant_id=c.tenant_id,
        listing_id=c.path("listing_id"),
    )
    return _listing_response(await call(c.backends.marketplace.ChangeListingStatus, request))


async def add_availability(c: Call) -> Response:
    request = to_message(
        pb.AddAvailabilityRequest, c.body, tenant_id=c.tenant_id, listing_id=c.path("listing_id")
    )
    added = await call(c.backends.marketplace.AddAvailability, request)
    return json_response({"opened": added.opened})


async def list_free_slots(c: Call) -> Response:
    request = to_message(
        pb.ListFreeSlotsRequest, c.query, tenant_id=c.tenant_id, listing_id=c.path("listing_id")
    )
    found = await call(c.backends.marketplace.ListFreeSlots, request)
    return json_response({"items": [to_json(slot) for slot in found.slots]})


async def post_rfq(c: Call) -> Response:
    rfq = await call(
        c.backends.marketplace.PostRfq, to_message(pb.PostRfqRequest, c.body, tenant_id=c.tenant_id)
    )
    return json_response(to_json(rfq), 201, {"Location": f"/v1/rfqs/{rfq.id}"})


async def get_rfq(c: Call) -> Response:
    request = pb.GetRfqRequest(tenant_id=c.tenant_id, rfq_id=c.path("rfq_id"))
    found = await call(c.backends.marketplace.GetRfq, request)
    return json_response({**to_json(found.rfq), "quotes": [to_json(quote) for quote in found.quotes]})


async def cancel_rfq(c: Call) -> Response:
    request = pb.CancelRfqRequest(tenant_id=c.tenant_id, rfq_id=c.path("rfq_id"))
    return json_response(to_json(await call(c.backends.marketplace.CancelRfq, request)))


async def submit_quote(c: Call) -> Response:
    request = to_message(pb.SubmitQuoteRequest, c.body, tenant_id=c.tenant_id, rfq_id=c.path("rfq_id"))
    quote = await call(c.backends.marketplace.SubmitQuote, request)
    return json_response(to_json(quote), 201, {"Location": f"/v1/rfqs/{quote.rfq_id}"})


async def withdraw_quote(c: Call) -> Response:
    request = pb.WithdrawQuoteRequest(tenant_id=c.tenant_id, quote_id=c.path("quote_id"))
    return json_response(to_json(await call(c.backends.marketplace.WithdrawQuote, request)))


ENDPOINTS = [
    trade(
        "POST",
        "/v1/listings",
        create_listing,
        "Draft a listing: a capability, machine-hours of a device, or a product",
        "listings",
        body=schemas.ListingCreate,
        response=schemas.Listing,
        status=201,
        errors=WRITE_ERRORS,
    ),
    trade(
        "GET",
        "/v1/listings",
        page_of("SearchListings", "listings"),
        "Search every seller's published listings",
        "listings",
        query=schemas.ListingSearchQuery,
        response=schemas.ListingList,
        errors=LIST_ERRORS,
    ),
    trade(
        "GET",
        "/v1/listings/mine",
        page_of("ListOwnListings", "listings"),
        "The caller's own listings of every status, newest first",
        "listings",
        query=schemas.OwnListingsQuery,
        response=schemas.ListingList,
        errors=LIST_ERRORS,
    ),
    trade(
        "GET",
        "/v1/listings/{listing_id}",
        get_listing,
        "A published listing, or one of the caller's own",
        "listings",
        response=schemas.Listing,
        errors=READ_ERRORS,
    ),
    trade(
        "PATCH",
        "/v1/listings/{listing_id}",
        update_listing,
        "Change some fields of the caller's listing",
        "listings",
        body=schemas.ListingPatch,
        response=schemas.Listing,
        precondition=True,
        errors=CHANGE_ERRORS,
    ),
    trade(
        "POST",
        "/v1/listings/{listing_id}/status",
        change_listing_status,
        "Publish, pause, resume or close the caller's listing",
        "listings",
        body=schemas.ListingStatusChange,
        response=schemas.Listing,
        precondition=True,
        errors=CHANGE_ERRORS,
    ),
    trade(
        "POST",
        "/v1/listings/{listing_id}/availability",
        add_availability,
        "Open the hourly slots of a capacity listing in a period (at most 90 days)",
        "listings",
        body=Period,
        response=schemas.AvailabilityAdded,
        errors=WRITE_ERRORS,
    ),
    trade(
        "GET",
        "/v1/listings/{listing_id}/slots",
        list_free_slots,
        "The unbooked hourly slots of a capacity listing in a period",
        "listings",
        query=Period,
        response=schemas.SlotList,
        errors=READ_ERRORS,
    ),
    trade(
        "POST",
        "/v1/rfqs",
        post_rfq,
        "Post a request for quotation",
        "rfqs",
        body=schemas.RfqCreate,
        response=schemas.Rfq,
        status=201,
        errors=WRITE_ERRORS,
    ),
    trade(
        "GET",
        "/v1/rfqs",
        page_of("ListOpenRfqs", "rfqs"),
        "Other buyers' open RFQs, soonest deadline first",
        "rfqs",
        query=schemas.RfqListQuery,
        response=schemas.RfqList,
        errors=LIST_ERRORS,
    ),
    trade(
        "GET",
        "/v1/rfqs/mine",
        page_of("ListOwnRfqs", "rfqs"),
        "The caller's own RFQs, newest first",
        "rfqs",
        query=PageQuery,
        response=schemas.RfqList,
        errors=LIST_ERRORS,
    ),
    trade(
        "GET",
        "/v1/rfqs/{rfq_id}",
        get_rfq,
        "An RFQ with the quotes the caller may see",
        "rfqs",
        response=schemas.RfqWithQuotes,
        errors=READ_ERRORS,
    ),
    trade(
        "POST",
        "/v1/rfqs/{rfq_id}/cancel",
        cancel_rfq,
        "Cancel the caller's open RFQ; its open quotes are rejected",
        "rfqs",
        response=schemas.Rfq,
        errors=(401, 403, 404, 409, 422),
    ),
    trade(
        "POST",
        "/v1/rfqs/{rfq_id}/quotes",
        submit_quote,
        "Quote a whole price for another buyer's open RFQ",
        "quotes",
        body=schemas.QuoteCreate,
        response=schemas.Quote,
        status=201,
        errors=WRITE_ERRORS,
    ),
    trade(
        "POST",
        "/v1/quotes/{quote_id}/withdraw",
        withdraw_quote,
        "Withdraw the caller's open quote",
        "quotes",
        response=schemas.Quote,
        errors=(401, 403, 404, 409, 422),
    ),
]
