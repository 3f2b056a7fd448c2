"""Orders: the tenant's as buyer or seller, and an order's page with its lines, every change
of its state, and exactly the moves the tenant's party may make in that state, each a form
carrying the session's CSRF token and a key that makes it once however often it is sent."""

from __future__ import annotations

from typing import Any

from gantry.v1 import marketplace_pb2 as pb
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from services.console.backend import ask, checked_form, for_tenant, object_id
from services.console.market.calls import TRADE, Refused, page_request, pager, submit
from services.console.market.entry import Entry, Unreadable, idempotency_key
from services.console.market.values import (
    MOVE_TARGETS,
    moves_offered,
    name_of,
    order_view,
    plain,
    transition_view,
    value_of,
)
from services.console.pages import Pages
from services.console.plant_values import moment_of
from services.console.sessions import CSRF_FIELD, Principal
from services.kit.grpc_clients import Backends


def routes(backends: Backends, pages: Pages) -> list[Route]:
    @for_tenant(backends, TRADE)
    async def order_list(request: Request, principal: Principal) -> Response:
        found = await ask(
            backends.marketplace.ListOrders,
            pb.ListOrdersRequest(tenant_id=principal.tenant_id, page=page_request(request.query_params)),
        )
        return pages.render(
            request,
            "market/orders.html",
            principal=principal,
            orders=[order_view(order, principal.tenant_id) for order in found.orders],
            pages=pager("/market/orders", request.query_params, (), found.page.next_cursor),
        )

    async def render_order(
        request: Request, principal: Principal, status: int = 200, problem: str = ""
    ) -> Response:
        found = await ask(
            backends.marketplace.GetOrder,
            pb.GetOrderRequest(tenant_id=principal.tenant_id, order_id=object_id(request, "order_id")),
        )
        order = order_view(found.order, principal.tenant_id)
        return pages.render(
            request,
            "market/order.html",
            status,
            principal=principal,
            csrf_field=CSRF_FIELD,
            order=order,
            lines=[plain(line) for line in found.lines],
            history=[transition_view(change) for change in found.history],
            evidence=[_evidence(slot) for slot in found.slot_evidence],
            moves=moves_offered(found.moves),
            idempotency_key=idempotency_key(),
            problem=problem,
        )

    @for_tenant(backends, TRADE)
    async def order_page(request: Request, principal: Principal) -> Response:
        return await render_order(request, principal)

    @for_tenant(backends, TRADE)
    async def move(request: Request, principal: Principal) -> Response:
        # The token first: a forged form learns nothing, not even whether the order exists.
        form = await checked_form(request, principal)
        order_id = object_id(request, "order_id")
        action = request.path_params["move"]
        if action not in MOVE_TARGETS:
            raise HTTPException(404, "no such move of an order")
        entry = Entry(form)
        keyed = {
            "tenant_id": principal.tenant_id,
            "idempotency_key": entry.text("idempotency_key"),
            "reason": entry.text("reason"),
            "order_id": order_id,
        }
        try:
            await submit(*_call(backends, action, keyed))
        except Unreadable:
            return await render_order(request, principal, 400, problem="reason")
        except Refused:
            return await render_order(request, principal, 409, problem="refused")
        return RedirectResponse(f"/market/orders/{order_id}", status_code=303)

    return [
        Route("/market/orders", order_list, name="market_orders"),
        Route("/market/orders/{order_id}", order_page, name="market_order"),
        Route("/market/orders/{order_id}/{move}", move, methods=["POST"], name="order_move"),
    ]


def _call(backends: Backends, action: str, keyed: dict[str, Any]) -> tuple[Any, Any]:
    """The marketplace's method and request that make the move, as the gateway's routes do."""
    market = backends.marketplace
    if action == "fund":
        return market.FundOrder, pb.FundOrderRequest(**keyed)
    if action == "complete":
        return market.CompleteOrder, pb.CompleteOrderRequest(**keyed)
    if action == "cancel":
        return market.CancelOrder, pb.CancelOrderRequest(**keyed)
    state = value_of(pb.OrderState, MOVE_TARGETS[action])
    return market.AdvanceOrder, pb.AdvanceOrderRequest(**keyed, state=state)


def _evidence(slot: pb.SlotEvidence) -> dict[str, Any]:
    return plain(
        slot,
        starts_at=moment_of(slot.starts_at),
        ends_at=moment_of(slot.ends_at),
        verdict=name_of(pb.SlotVerdict, slot.verdict),
    )
