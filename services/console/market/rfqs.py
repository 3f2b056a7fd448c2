"""Requests for quotation: a buyer posts one (from a listing's page, its category and title
filled in), sellers see the open ones of other buyers and quote a whole price, and the
buyer accepts a quote, which places the order at the quoted price."""

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
from services.console.market.entry import Entry, Unreadable, idempotency_key
from services.console.market.values import CATEGORIES, CURRENCIES, UNITS, quote_view, rfq_view, value_of
from services.console.pages import Pages
from services.console.sessions import Principal
from services.kit.grpc_clients import Backends

RFQ_FIELDS = 10
QUOTE_MOVES = ("accept", "withdraw")


def routes(backends: Backends, pages: Pages) -> list[Route]:
    render = renderer(pages)

    @for_tenant(backends, TRADE)
    async def rfq_list(request: Request, principal: Principal) -> Response:
        """Other buyers' open RFQs (a seller's view), and a link to the tenant's own."""
        category = request.query_params.get("category", "")
        if category and category not in CATEGORIES:
            raise HTTPException(400, f"category must be one of {', '.join(CATEGORIES)}")
        found = await ask(
            backends.marketplace.ListOpenRfqs,
            pb.ListOpenRfqsRequest(
                tenant_id=principal.tenant_id, page=page_request(request.query_params), category=category
            ),
        )
        return render(
            request,
            principal,
            "market/rfqs.html",
            rfqs=[rfq_view(rfq, principal.tenant_id) for rfq in found.rfqs],
            own=False,
            chosen_category=category,
            pages=pager("/market/rfqs", request.query_params, ("category",), found.page.next_cursor),
        )

    @for_tenant(backends, TRADE)
    async def own_rfqs(request: Request, principal: Principal) -> Response:
        found = await ask(
            backends.marketplace.ListOwnRfqs,
            pb.ListOwnRfqsRequest(tenant_id=principal.tenant_id, page=page_request(request.query_params)),
        )
        return render(
            request,
            principal,
            "market/rfqs.html",
            rfqs=[rfq_view(rfq, principal.tenant_id) for rfq in found.rfqs],
            own=True,
            chosen_category="",
            pages=pager("/market/rfqs/mine", request.query_params, (), found.page.next_cursor),
        )

    @for_tenant(backends, TRADE)
    async def new_rfq(request: Request, principal: Principal) -> Response:
        # A listing's page links here with its category and title.
        entered = {name: request.query_params.get(name, "") for name in ("category", "title", "currency")}
        return render(request, principal, "market/rfq_new.html", entered=entered)

    @for_tenant(backends, TRADE)
    async def post_rfq(request: Request, principal: Principal) -> Response:
        form = await checked_form(request, principal, max_fields=RFQ_FIELDS)
        entry = Entry(form)
        unit = entry.choice("unit", UNITS)
        rfq_request = pb.PostRfqRequest(
            tenant_id=principal.tenant_id,
            category=entry.text("category"),
            title=entry.text("title"),
            specification=form.get("specification", ""),
            quantity=entry.whole("quantity"),
            unit=value_of(pb.Unit, unit) if unit in UNITS else 0,
            currency=entry.choice("currency", CURRENCIES),
            deadline=entry.day_end("deadline", pages.time_zone_of(request)),
        )
        rfq = await submitted(
            entry,
            backends.marketplace.PostRfq,
            rfq_request,
            redraw(render, request, principal, "market/rfq_new.html"),
        )
        if isinstance(rfq, Response):
            return rfq
        return RedirectResponse(f"/market/rfqs/{rfq.id}", status_code=303)

    async def render_rfq(
        request: Request, principal: Principal, status: int = 200, **problem: object
    ) -> Response:
        found = await ask(
            backends.marketplace.GetRfq,
            pb.GetRfqRequest(tenant_id=principal.tenant_id, rfq_id=object_id(request, "rfq_id")),
        )
        return render(
            request,
            principal,
            "market/rfq.html",
            status,
            rfq=rfq_view(found.rfq, principal.tenant_id),
            quotes=[quote_view(quote, principal.tenant_id) for quote in found.quotes],
            idempotency_key=idempotency_key(),
            **problem,
        )

    @for_tenant(backends, TRADE)
    async def rfq_page(request: Request, principal: Principal) -> Response:
        return await render_rfq(request, principal)

    @for_tenant(backends, TRADE)
    async def submit_quote(request: Request, principal: Principal) -> Response:
        form = await checked_form(request, principal)
        rfq_id = object_id(request, "rfq_id")
        entry = Entry(form)
        currency = entry.choice("currency", CURRENCIES)
        quote_request = pb.SubmitQuoteRequest(
            tenant_id=principal.tenant_id,
            rfq_id=rfq_id,
            price=entry.amount("price", currency),
            currency=currency,
            lead_time_days=entry.whole("lead_time_days", default=0),
            valid_until=entry.day_end("valid_until", pages.time_zone_of(request)),
            note=form.get("note", ""),
        )
        answer = await submitted(
            entry,
            backends.marketplace.SubmitQuote,
            quote_request,
            functools.partial(render_rfq, request, principal),
        )
        if isinstance(answer, Response):
            return answer
        return RedirectResponse(f"/market/rfqs/{rfq_id}", status_code=303)

    @for_tenant(backends, TRADE)
    async def cancel_rfq(request: Request, principal: Principal) -> Response:
        await checked_form(request, principal)
        rfq_id = object_id(request, "rfq_id")
        try:
            await submit(
                backends.marketplace.CancelRfq,
                pb.CancelRfqRequest(tenant_id=principal.tenant_id, rfq_id=rfq_id),
            )
        except Refused:
            return await render_rfq(request, principal, 409, problem="refused")
        return RedirectResponse(f"/market/rfqs/{rfq_id}", status_code=303)

    @for_tenant(backends, TRADE)
    async def quote_move(request: Request, principal: Principal) -> Response:
        """The buyer accepts a quote (the order is placed), or its seller withdraws it."""
        form = await checked_form(request, principal)
        rfq_id, quote_id = object_id(request, "rfq_id"), object_id(request, "quote_id")
        move = request.path_params["move"]
        if move not in QUOTE_MOVES:
            raise HTTPException(404, "no such move of a quote")
        entry = Entry(form)
        try:
            if move == "accept":
                order = await submit(
                    backends.marketplace.AcceptQuote,
                    pb.AcceptQuoteRequest(
                        tenant_id=principal.tenant_id,
                        idempotency_key=entry.text("idempotency_key"),
                        reason=entry.text("reason"),
                        quote_id=quote_id,
                    ),
                )
                return RedirectResponse(f"/market/orders/{order.id}", status_code=303)
            await submit(
                backends.marketplace.WithdrawQuote,
                pb.WithdrawQuoteRequest(tenant_id=principal.tenant_id, quote_id=quote_id),
            )
        except Unreadable as unreadable:
            return await render_rfq(request, principal, 400, wrong=unreadable.fields)
        except Refused:
            return await render_rfq(request, principal, 409, problem="refused")
        return RedirectResponse(f"/market/rfqs/{rfq_id}", status_code=303)

    return [
        Route("/market/rfqs", rfq_list, name="market_rfqs"),
        Route("/market/rfqs", post_rfq, methods=["POST"], name="post_rfq"),
        Route("/market/rfqs/mine", own_rfqs, name="own_rfqs"),
        Route("/market/rfqs/new", new_rfq, name="new_rfq"),
        Route("/market/rfqs/{rfq_id}", rfq_page, name="market_rfq"),
        Route("/market/rfqs/{rfq_id}/quotes", submit_quote, methods=["POST"], name="submit_quote"),
        Route("/market/rfqs/{rfq_id}/cancel", cancel_rfq, methods=["POST"], name="cancel_rfq"),
        Route(
            "/market/rfqs/{rfq_id}/quotes/{quote_id}/{move}", quote_move, methods=["POST"], name="quote_move"
        ),
    ]
