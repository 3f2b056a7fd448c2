"""The marketplace's orders and their moves, accounts, and the platform's figures."""

from __future__ import annotations

from typing import Any

from gantry.v1 import marketplace_pb2 as pb
from starlette.responses import Response

from services.gateway.auth import OPERATOR
from services.gateway.clients import call
from services.gateway.endpoints import Call, Handler, json_response
from services.gateway.protojson import page_json, to_json, to_message
from services.gateway.routes.marketplace import LIST_ERRORS, READ_ERRORS, WRITE_ERRORS, page_of, trade
from services.gateway.schemas import marketplace_orders as schemas
from services.gateway.schemas.common import PageQuery
from services.gateway.schemas.marketplace import Reasoned


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
    body = {**to_json(found.order), **to_json(found, omit=("order",))}
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


async def get_accounts(c: Call) -> Response:
    request = pb.GetAccountsRequest(tenant_id=_operator_or_tenant(c))
    found = await call(c.backends.marketplace.GetAccounts, request)
    return json_response({"items": [to_json(account) for account in found.accounts]})


async def list_transfers(c: Call) -> Response:
    request = to_message(
        pb.ListTransfersRequest,
        c.query,
        tenant_id=_operator_or_tenant(c),
        account_id=c.path("account_id"),
    )
    found = await call(c.backends.marketplace.ListTransfers, request, field_prefix="page.")
    return json_response(page_json(found.transfers, found.page))


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


ENDPOINTS = [
    trade(
        "POST",
        "/v1/quotes/{quote_id}/accept",
        accept_quote,
        "The buyer accepts an open quote: the RFQ is awarded and the order placed at the quoted price",
        "quotes",
        body=Reasoned,
        keyed=True,
        response=schemas.Order,
        status=201,
        errors=WRITE_ERRORS,
    ),
    trade(
        "POST",
        "/v1/orders",
        place_order,
        "Order from a published listing: stock taken and capacity slots booked, at once or not at all",
        "orders",
        body=schemas.OrderCreate,
        keyed=True,
        response=schemas.Order,
        status=201,
        errors=WRITE_ERRORS,
    ),
    trade(
        "GET",
        "/v1/orders",
        page_of("ListOrders", "orders"),
        "The caller's orders as buyer or seller, newest first",
        "orders",
        query=PageQuery,
        response=schemas.OrderList,
        errors=LIST_ERRORS,
    ),
    trade(
        "GET",
        "/v1/orders/{order_id}",
        get_order,
        "An order with its lines, every change of its state and, for capacity, the evidence of its booked slots",
        "orders",
        for_operator=True,
        response=schemas.OrderDetail,
        errors=READ_ERRORS,
    ),
    *(
        trade(
            "POST",
            f"/v1/orders/{{order_id}}/{action}",
            order_move(action, method, **fields),
            summary,
            "orders",
            body=Reasoned,
            keyed=True,
            response=schemas.Order,
            errors=WRITE_ERRORS,
        )
        for action, summary, method, fields in ORDER_MOVES
    ),
    trade(
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
        errors=WRITE_ERRORS,
    ),
    trade(
        "GET",
        "/v1/accounts",
        get_accounts,
        "The caller's accounts in every currency; the platform's for the operator",
        "accounts",
        for_operator=True,
        response=schemas.AccountList,
        errors=(401, 403),
    ),
    trade(
        "GET",
        "/v1/accounts/{account_id}/transfers",
        list_transfers,
        "The transfers of one of the caller's accounts, newest first: its ledger entries",
        "accounts",
        for_operator=True,
        query=PageQuery,
        response=schemas.TransferList,
        errors=READ_ERRORS,
    ),
    trade(
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
    trade(
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
    trade(
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
    trade(
        "GET",
        "/v1/marketplace/stats",
        platform_stats,
        "The platform's figures: registered companies, those abroad, completed orders and amounts per currency",
        "marketplace",
        scope="analytics:read",
        for_operator=True,
        query=schemas.StatsQuery,
        response=schemas.PlatformStats,
        errors=LIST_ERRORS,
    ),
]
