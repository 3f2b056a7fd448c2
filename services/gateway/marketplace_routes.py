"""The marketplace's routes: listings, RFQs and quotes, orders and their moves, accounts,
and the platform's figures. Bodies and answers carry the fields of the marketplace's
messages under their protobuf names, so one pair of converters serves every route."""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from typing import Any

from gantry.v1 import common_pb2 as common_pb
from gantry.v1 import marketplace_pb2 as pb
from google.protobuf import field_mask_pb2
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message
from starlette.responses import Response

from services.gateway import marketplace_schemas as schemas
from services.gateway.auth import OPERATOR
from services.gateway.clients import call
from services.gateway.endpoints import Call, Endpoint, Handler, json_response
from services.gateway.routes import etag, page_request, rfc3339
from services.gateway.schemas import Period
from services.kit.protos import enum_prefix, timestamp

TRADE = "marketplace:trade"
_TIMESTAMP = "google.protobuf.Timestamp"


def _json_value(field: FieldDescriptor, value: Any) -> Any:
    if field.enum_type is not None:
        if value == 0:
            return None
        return field.enum_type.values_by_number[value].name.removeprefix(enum_prefix(field.enum_type)).lower()
    if field.message_type is None:
        return value
    return rfc3339(value) if field.message_type.full_name == _TIMESTAMP else to_json(value)


def to_json(message: Message) -> dict[str, Any]:
    """A message as the partner API shows it: enums by their lower-case names (null for
    UNSPECIFIED), times in RFC 3339, unset optional fields as null."""
    body: dict[str, Any] = {}
    for field in message.DESCRIPTOR.fields:
        value = getattr(message, field.name)
        if field.is_repeated:
            body[field.name] = [_json_value(field, item) for item in value]
        elif field.has_presence and not message.HasField(field.name):
            body[field.name] = None
        else:
            body[field.name] = _json_value(field, value)
    return body


def _proto_value(field: FieldDescriptor, value: Any) -> Any:
    if field.enum_type is not None:
        return field.enum_type.values_by_name[enum_prefix(field.enum_type) + value.upper()].number
    if isinstance(value, datetime):
        return timestamp(value)
    return str(value) if isinstance(value, uuid.UUID) else value


def to_message(kind: type[Message], values: dict[str, Any], **fixed: Any) -> Any:
    """A request from a validated body or query (absent values left unset; `limit` and
    `cursor` as its page) and the fields the gateway decides (`fixed`)."""
    fields = kind.DESCRIPTOR.fields_by_name
    request: dict[str, Any] = dict(fixed)
    for name, value in values.items():
        if value is None or name in ("limit", "cursor"):
            continue
        field = fields[name]
        if field.is_repeated:
            request[name] = [_proto_value(field, item) for item in value]
        else:
            request[name] = _proto_value(field, value)
    if "page" in fields:
        request["page"] = page_request(values)
    return kind(**request)


def page_json(items: list[Message], page: common_pb.PageInfo) -> dict[str, Any]:
    return {"items": [to_json(item) for item in items], "next_cursor": page.next_cursor}


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


def _keyed(c: Call, tenant_id: str | None = None) -> dict[str, Any]:
    """What a call that moves money or places an order carries: the caller (the tenant
    whose key it is, unless named), its idempotency key, and why."""
    return {
        "tenant_id": c.tenant_id if tenant_id is None else tenant_id,
        "idempotency_key": c.idempotency_key(),
        "reason": c.body["reason"],
    }


def _operator_or_tenant(c: Call) -> str:
    """The caller's tenant, or "" for the operator, as the marketplace names the operator."""
    return "" if c.caller is not None and c.caller.is_operator else c.tenant_id


# --- Listings ---------------------------------------------------------------------


def _listing_response(listing: pb.Listing, status: int = 200) -> Response:
    headers = {"ETag": etag(listing)}
    if status == 201:
        headers["Location"] = f"/v1/listings/{listing.id}"
    return json_response(to_json(listing), status, headers)


async def create_listing(c: Call) -> Response:
    request = to_message(pb.CreateListingRequest, c.body, tenant_id=c.tenant_id)
    return _listing_response(await call(c.backends.marketplace.CreateListing, request), 201)


async def get_listing(c: Call) -> Response:
    request = pb.GetListingRequest(tenant_id=c.tenant_id, listing_id=c.path("listing_id"))
    return _listing_response(await call(c.backends.marketplace.GetListing, request))


async def update_listing(c: Call) -> Response:
    request = to_message(
        pb.UpdateListingRequest,
        c.body,
        tenant_id=c.tenant_id,
        listing_id=c.path("listing_id"),
        expected_version=c.expected_version(),
        update_mask=field_mask_pb2.FieldMask(paths=sorted(c.body)),
    )
    return _listing_response(await call(c.backends.marketplace.UpdateListing, request))


async def change_listing_status(c: Call) -> Response:
    request = to_message(
        pb.ChangeListingStatusRequest,
        c.body,
        tenant_id=c.tenant_id,
        listing_id=c.path("listing_id"),
        expected_version=c.expected_version(),
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


# --- Requests for quotation -------------------------------------------------------


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


# --- Orders -----------------------------------------------------------------------


def _placed(order: pb.Order) -> Response:
    return json_response(to_json(order), 201, {"Location": f"/v1/orders/{order.id}"})


async def accept_quote(c: Call) -> Response:
    request = pb.AcceptQuoteRequest(**_keyed(c), quote_id=c.path("quote_id"))
    return _placed(await call(c.backends.marketplace.AcceptQuote, request))


async def place_order(c: Call) -> Response:
    return _placed(
        await call(c.backends.marketplace.PlaceOrder, to_message(pb.PlaceOrderRequest, c.body, **_keyed(c)))
    )


async def get_order(c: Call) -> Response:
    request = pb.GetOrderRequest(tenant_id=_operator_or_tenant(c), order_id=c.path("order_id"))
    found = await call(c.backends.marketplace.GetOrder, request)
    body = {
        **to_json(found.order),
        "lines": [to_json(line) for line in found.lines],
        "history": [to_json(change) for change in found.history],
    }
    return json_response(body)


async def resolve_dispute(c: Call) -> Response:
    request = pb.ResolveDisputeRequest(**_keyed(c, ""), order_id=c.path("order_id"), refund=c.body["refund"])
    return json_response(to_json(await call(c.backends.marketplace.ResolveDispute, request)))


def order_move(action: str, method: str, **fields: Any) -> Handler:
    """The handler of one move of an order: `method` of the marketplace with `fields`."""
    request_type = getattr(pb, f"{method}Request")

    async def move(c: Call) -> Response:
        request = request_type(**_keyed(c), order_id=c.path("order_id"), **fields)
        return json_response(to_json(await call(getattr(c.backends.marketplace, method), request)))

    move.__name__ = f"{action.replace('-', '_')}_order"
    return move


# Each move of an order: who may make it, and the method and state that make it.
ORDER_MOVES: list[tuple[str, str, str, dict[str, int]]] = [
    ("fund", "The buyer pays: the order's total is held in escrow", "FundOrder", {}),
    ("accept", "The seller accepts a funded order", "AdvanceOrder", {"state": pb.ORDER_STATE_ACCEPTED}),
    (
        "start-production",
        "The seller starts production",
        "AdvanceOrder",
        {"state": pb.ORDER_STATE_IN_PRODUCTION},
    ),
    ("ship", "The seller ships the order", "AdvanceOrder", {"state": pb.ORDER_STATE_SHIPPED}),
    (
        "deliver",
        "Buyer or seller marks the order delivered",
        "AdvanceOrder",
        {"state": pb.ORDER_STATE_DELIVERED},
    ),
    (
        "dispute",
        "Buyer or seller disputes a funded order: the escrow is frozen until the operator rules",
        "AdvanceOrder",
        {"state": pb.ORDER_STATE_DISPUTED},
    ),
    (
        "complete",
        "The buyer completes a delivered order: the escrow goes to the seller, less the platform's fee",
        "CompleteOrder",
        {},
    ),
    (
        "cancel",
        "Buyer or seller cancels before production: the escrow, stock and slots return",
        "CancelOrder",
        {},
    ),
]


# --- Accounts and figures ---------------------------------------------------------


async def get_accounts(c: Call) -> Response:
    request = pb.GetAccountsRequest(tenant_id=_operator_or_tenant(c))
    found = await call(c.backends.marketplace.GetAccounts, request)
    return json_response({"items": [to_json(account) for account in found.accounts]})


async def deposit(c: Call) -> Response:
    request = to_message(pb.DepositRequest, c.body, **_keyed(c, ""))
    return json_response(to_json(await call(c.backends.marketplace.Deposit, request)), 201)


async def withdraw(c: Call) -> Response:
    request = to_message(pb.WithdrawRequest, c.body, **_keyed(c))
    return json_response(to_json(await call(c.backends.marketplace.Withdraw, request)), 201)


async def check_ledger(c: Call) -> Response:
    found = await call(c.backends.marketplace.CheckLedger, pb.CheckLedgerRequest())
    imbalances = [to_json(imbalance) for imbalance in found.imbalances]
    return json_response({"balanced": not imbalances, "imbalances": imbalances})


async def platform_stats(c: Call) -> Response:
    stats = await call(
        c.backends.marketplace.GetPlatformStats, to_message(pb.GetPlatformStatsRequest, c.query)
    )
    return json_response(to_json(stats))


def _trade(method: str, path: str, handler: Handler, summary: str, tag: str, **options: Any) -> Endpoint:
    """An endpoint of a tenant's trade."""
    return Endpoint(method, path, handler, summary, tag, scope=options.pop("scope", TRADE), **options)


_READ_ERRORS = (401, 403, 404, 422)
_LIST_ERRORS = (401, 403, 422)
_WRITE_ERRORS = (401, 403, 404, 409, 413, 415, 422)
_CHANGE_ERRORS = (*_WRITE_ERRORS, 412, 428)

ENDPOINTS = [
    _trade(
        "POST",
        "/v1/listings",
        create_listing,
        "Draft a listing: a capability, machine-hours of a device, or a product",
        "listings",
        body=schemas.ListingCreate,
        response=schemas.Listing,
        status=201,
        errors=_WRITE_ERRORS,
    ),
    _trade(
        "GET",
        "/v1/listings",
        page_of("SearchListings", "listings"),
        "Search every seller's published listings",
        "listings",
        query=schemas.ListingSearchQuery,
        response=schemas.ListingList,
        errors=_LIST_ERRORS,
    ),
    _trade(
        "GET",
        "/v1/listings/mine",
        page_of("ListOwnListings", "listings"),
        "The caller's own listings of every status, newest first",
        "listings",
        query=schemas.OwnListingsQuery,
        response=schemas.ListingList,
        errors=_LIST_ERRORS,
    ),
    _trade(
        "GET",
        "/v1/listings/{listing_id}",
        get_listing,
        "A published listing, or one of the caller's own",
        "listings",
        response=schemas.Listing,
        errors=_READ_ERRORS,
    ),
    _trade(
        "PATCH",
        "/v1/listings/{listing_id}",
        update_listing,
        "Change some fields of the caller's listing",
        "listings",
        body=schemas.ListingPatch,
        response=schemas.Listing,
        precondition=True,
        errors=_CHANGE_ERRORS,
    ),
    _trade(
        "POST",
        "/v1/listings/{listing_id}/status",
        change_listing_status,
        "Publish, pause, resume or close the caller's listing",
        "listings",
        body=schemas.ListingStatusChange,
        response=schemas.Listing,
        precondition=True,
        errors=_CHANGE_ERRORS,
    ),
    _trade(
        "POST",
        "/v1/listings/{listing_id}/availability",
        add_availability,
        "Open the hourly slots of a capacity listing in a period (at most 90 days)",
        "listings",
        body=Period,
        response=schemas.AvailabilityAdded,
        errors=_WRITE_ERRORS,
    ),
    _trade(
        "GET",
        "/v1/listings/{listing_id}/slots",
        list_free_slots,
        "The unbooked hourly slots of a capacity listing in a period",
        "listings",
        query=Period,
        response=schemas.SlotList,
        errors=_READ_ERRORS,
    ),
    _trade(
        "POST",
        "/v1/rfqs",
        post_rfq,
        "Post a request for quotation",
        "rfqs",
        body=schemas.RfqCreate,
        response=schemas.Rfq,
        status=201,
        errors=_WRITE_ERRORS,
    ),
    _trade(
        "GET",
        "/v1/rfqs",
        page_of("ListOpenRfqs", "rfqs"),
        "Other buyers' open RFQs, soonest deadline first",
        "rfqs",
        query=schemas.RfqListQuery,
        response=schemas.RfqList,
        errors=_LIST_ERRORS,
    ),
    _trade(
        "GET",
        "/v1/rfqs/mine",
        page_of("ListOwnRfqs", "rfqs"),
        "The caller's own RFQs, newest first",
        "rfqs",
        query=schemas.PageQuery,
        response=schemas.RfqList,
        errors=_LIST_ERRORS,
    ),
    _trade(
        "GET",
        "/v1/rfqs/{rfq_id}",
        get_rfq,
        "An RFQ with the quotes the caller may see",
        "rfqs",
        response=schemas.RfqWithQuotes,
        errors=_READ_ERRORS,
    ),
    _trade(
        "POST",
        "/v1/rfqs/{rfq_id}/cancel",
        cancel_rfq,
        "Cancel the caller's open RFQ; its open quotes are rejected",
        "rfqs",
        response=schemas.Rfq,
        errors=(401, 403, 404, 409, 422),
    ),
    _trade(
        "POST",
        "/v1/rfqs/{rfq_id}/quotes",
        submit_quote,
        "Quote a whole price for another buyer's open RFQ",
        "quotes",
        body=schemas.QuoteCreate,
        response=schemas.Quote,
        status=201,
        errors=_WRITE_ERRORS,
    ),
    _trade(
        "POST",
        "/v1/quotes/{quote_id}/withdraw",
        withdraw_quote,
        "Withdraw the caller's open quote",
        "quotes",
        response=schemas.Quote,
        errors=(401, 403, 404, 409, 422),
    ),
    _trade(
        "POST",
        "/v1/quotes/{quote_id}/accept",
        accept_quote,
        "The buyer accepts an open quote: the RFQ is awarded and the order placed at the quoted price",
        "quotes",
        body=schemas.Reasoned,
        keyed=True,
        response=schemas.Order,
        status=201,
        errors=_WRITE_ERRORS,
    ),
    _trade(
        "POST",
        "/v1/orders",
        place_order,
        "Order from a published listing: stock taken and capacity slots booked, at once or not at all",
        "orders",
        body=schemas.OrderCreate,
        keyed=True,
        response=schemas.Order,
        status=201,
        errors=_WRITE_ERRORS,
    ),
    _trade(
        "GET",
        "/v1/orders",
        page_of("ListOrders", "orders"),
        "The caller's orders as buyer or seller, newest first",
        "orders",
        query=schemas.PageQuery,
        response=schemas.OrderList,
        errors=_LIST_ERRORS,
    ),
    _trade(
        "GET",
        "/v1/orders/{order_id}",
        get_order,
        "An order with its lines and every change of its state",
        "orders",
        for_operator=True,
        response=schemas.OrderDetail,
        errors=_READ_ERRORS,
    ),
    *(
        _trade(
            "POST",
            f"/v1/orders/{{order_id}}/{action}",
            order_move(action, method, **fields),
            summary,
            "orders",
            body=schemas.Reasoned,
            keyed=True,
            response=schemas.Order,
            errors=_WRITE_ERRORS,
        )
        for action, summary, method, fields in ORDER_MOVES
    ),
    _trade(
        "POST",
        "/v1/orders/{order_id}/resolve",
        resolve_dispute,
        "The operator's ruling on a disputed order: the refund to the buyer, the rest to the seller less the fee",
        "orders",
        scope=OPERATOR,
        for_operator=True,
        body=schemas.DisputeRuling,
        keyed=True,
        response=schemas.Order,
        errors=_WRITE_ERRORS,
    ),
    _trade(
        "GET",
        "/v1/accounts",
        get_accounts,
        "The caller's accounts in every currency; the platform's for the operator",
        "accounts",
        for_operator=True,
        response=schemas.AccountList,
        errors=(401, 403),
    ),
    _trade(
        "POST",
        "/v1/accounts/deposits",
        deposit,
        "The operator records money entering the platform for a tenant",
        "accounts",
        scope=OPERATOR,
        for_operator=True,
        body=schemas.DepositCreate,
        keyed=True,
        response=schemas.Transfer,
        status=201,
        errors=(401, 403, 413, 415, 422),
    ),
    _trade(
        "POST",
        "/v1/accounts/withdrawals",
        withdraw,
        "Money leaving the platform from the caller's available balance",
        "accounts",
        body=schemas.WithdrawalCreate,
        keyed=True,
        response=schemas.Transfer,
        status=201,
        errors=(401, 403, 409, 413, 415, 422),
    ),
    _trade(
        "GET",
        "/v1/accounts/check",
        check_ledger,
        "Whether the ledger sums to zero in every currency",
        "accounts",
        scope=OPERATOR,
        for_operator=True,
        response=schemas.LedgerCheck,
        errors=(401, 403),
    ),
    _trade(
        "GET",
        "/v1/marketplace/stats",
        platform_stats,
        "The platform's figures: registered companies, those abroad, completed orders and amounts per currency",
        "marketplace",
        scope="analytics:read",
        for_operator=True,
        query=schemas.StatsQuery,
        response=schemas.PlatformStats,
        errors=_LIST_ERRORS,
    ),
]
