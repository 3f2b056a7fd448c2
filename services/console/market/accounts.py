"""The tenant's money on the marketplace's ledger: its accounts in each currency (what is
available, what is held in escrow), each account's entries, and money paid out of what is
available; and the platform's figures for whoever the API shows them to (any tenant's
readers, and the operator)."""

from __future__ import annotations

import functools
from typing import Any

from gantry.v1 import marketplace_pb2 as pb
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from services.console.backend import ask, checked_form, for_tenant, object_id
from services.console.market.calls import TRADE, page_request, pager, renderer, submitted
from services.console.market.entry import Entry, idempotency_key
from services.console.market.values import CURRENCIES, account_view, entry_view, plain
from services.console.pages import Pages
from services.console.sessions import Principal, requires
from services.kit.grpc_clients import Backends

# The gateway's scope for the platform's figures; the operator holds every scope.
FIGURES = "analytics:read"


def routes(backends: Backends, pages: Pages) -> list[Route]:
    render = renderer(pages)

    async def render_accounts(
        request: Request, principal: Principal, status: int = 200, **problem: Any
    ) -> Response:
        found = await ask(
            backends.marketplace.GetAccounts, pb.GetAccountsRequest(tenant_id=principal.tenant_id)
        )
        return render(
            request,
            principal,
            "market/accounts.html",
            status,
            accounts=sorted(
                (account_view(account) for account in found.accounts),
                key=lambda account: (account["currency"], account["kind"]),
            ),
            idempotency_key=idempotency_key(),
            **problem,
        )

    @for_tenant(backends, TRADE)
    async def accounts(request: Request, principal: Principal) -> Response:
        return await render_accounts(request, principal)

    @for_tenant(backends, TRADE)
    async def withdraw(request: Request, principal: Principal) -> Response:
        """Money paid out of the available balance, to the company's bank as the operator
        settles it."""
        form = await checked_form(request, principal)
        entry = Entry(form)
        currency = entry.choice("currency", CURRENCIES)
        withdrawal = pb.WithdrawRequest(
            tenant_id=principal.tenant_id,
            idempotency_key=entry.text("idempotency_key"),
            reason=entry.text("reason"),
            currency=currency,
            amount=entry.amount("amount", currency),
        )
        answer = await submitted(
            entry,
            backends.marketplace.Withdraw,
            withdrawal,
            functools.partial(render_accounts, request, principal),
        )
        if isinstance(answer, Response):
            return answer
        return RedirectResponse("/market/accounts", status_code=303)

    @for_tenant(backends, TRADE)
    async def ledger_entries(request: Request, principal: Principal) -> Response:
        """One account's transfers, newest first, a page at a time; another's account is a 404."""
        account_id = object_id(request, "account_id")
        found = await ask(
            backends.marketplace.ListTransfers,
            pb.ListTransfersRequest(
                tenant_id=principal.tenant_id, account_id=account_id, page=page_request(request.query_params)
            ),
        )
        owned = await ask(
            backends.marketplace.GetAccounts, pb.GetAccountsRequest(tenant_id=principal.tenant_id)
        )
        [account] = [account_view(a) for a in owned.accounts if a.id == account_id]
        return pages.render(
            request,
            "market/ledger.html",
            principal=principal,
            account=account,
            entries=[entry_view(transfer, account_id) for transfer in found.transfers],
            pages=pager(f"/market/accounts/{account_id}", request.query_params, (), found.page.next_cursor),
        )

    @requires(backends, FIGURES)
    async def figures(request: Request, principal: Principal) -> Response:
        query = request.query_params
        stats = await ask(
            backends.marketplace.GetPlatformStats,
            pb.GetPlatformStatsRequest(from_day=query.get("from", ""), to_day=query.get("to", "")),
        )
        return pages.render(
            request,
            "market/figures.html",
            principal=principal,
            stats=stats,
            totals=[plain(total) for total in stats.totals],
            days=[{"day": day.day, "currencies": [plain(c) for c in day.currencies]} for day in stats.days],
        )

    return [
        Route("/market/accounts", accounts, name="market_accounts"),
        Route("/market/accounts/withdrawals", withdraw, methods=["POST"], name="withdraw"),
        Route("/market/accounts/{account_id}", ledger_entries, name="ledger_entries"),
        Route("/market/figures", figures, name="market_figures"),
    ]
