"""The tenant's money on the marketplace's ledger: its accounts in each currency (what is
available, what is held in escrow) and each account's entries, and the platform's figures for whoever the API shows
them to (any tenant's readers, and the operator)."""

from __future__ import annotations

from gantry.v1 import marketplace_pb2 as pb
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from services.console.backend import ask, for_tenant, object_id
from services.console.market.calls import TRADE, page_request, pager
from services.console.market.values import account_view, entry_view, plain
from services.console.pages import Pages
from services.console.sessions import Principal, requires
from services.kit.grpc_clients import Backends

# The gateway's scope for the platform's figures; the operator holds every scope.
FIGURES = "analytics:read"


def routes(backends: Backends, pages: Pages) -> list[Route]:
    @for_tenant(backends, TRADE)
    async def accounts(request: Request, principal: Principal) -> Response:
        found = await ask(
            backends.marketplace.GetAccounts, pb.GetAccountsRequest(tenant_id=principal.tenant_id)
        )
        return pages.render(
            request,
            "market/accounts.html",
            principal=principal,
            accounts=sorted(
                (account_view(account) for account in found.accounts),
                key=lambda account: (account["currency"], account["kind"]),
            ),
        )

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
        Route("/market/accounts/{account_id}", ledger_entries, name="ledger_entries"),
        Route("/market/figures", figures, name="market_figures"),
    ]
