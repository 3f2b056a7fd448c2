"""A tenant's API keys, in its admin's settings: listed a page at a time (revoked ones too),
issued with the scopes chosen (the key shown once, in the answer to the form), revoked.
Every call names the admin's tenant, so another tenant's key is a 404 whatever id a form
sends."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from gantry.v1 import registry_pb2
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from services.console.admin.calls import call, issued_or_refused
from services.console.backend import ask, checked_form, for_tenant, object_id
from services.console.pages import Pages
from services.console.people.context import PeopleContext, page_of
from services.console.people.refusals import Refusal
from services.console.plant_values import moment_of
from services.console.sessions import Principal
from services.kit.grpc_clients import Backends
from services.kit.scopes import SCOPES

PAGE = "/settings/api-keys"
PAGE_SIZE = 50
NOTICES = frozenset({"revoked"})
# One checkbox per scope, named `scope:devices:read`.
SCOPE_FIELD = "scope:"
# How long a new key may live, in days; without one, until it is revoked.
LIFETIMES_DAYS = ("30", "90", "365")


def routes(backends: Backends, pages: Pages) -> list[Route]:
    admin = for_tenant(backends, "admin")

    async def show(request: Request, principal: Principal, status: int = 200, **context: Any) -> Response:
        listed = await ask(
            backends.registry.ListApiKeys,
            registry_pb2.ListApiKeysRequest(
                tenant_id=principal.tenant_id,
                page=page_of(request, PAGE_SIZE),
            ),
        )
        return pages.render(
            request,
            "admin/api_keys.html",
            status,
            principal=principal,
            keys=[key_row(key) for key in listed.api_keys],
            total=listed.page.total,
            next_cursor=listed.page.next_cursor,
            scopes=SCOPES,
            lifetimes=LIFETIMES_DAYS,
            notice=PeopleContext.notice(request, NOTICES),
            **{
                "refusal": None,
                "issued": None,
                "entered": {"name": "", "scopes": (), "lifetime": ""},
                **context,
            },
        )

    @admin
    async def api_keys(request: Request, principal: Principal) -> Response:
        return await show(request, principal)

    @admin
    async def create(request: Request, principal: Principal) -> Response:
        form = await checked_form(request, principal, max_fields=len(SCOPES) + 3)
        name, lifetime = form.get("name", "").strip(), form.get("lifetime", "")
        chosen = [scope for scope in SCOPES if form.get(f"{SCOPE_FIELD}{scope}")]
        asked = registry_pb2.CreateApiKeyRequest(tenant_id=principal.tenant_id, name=name, scopes=chosen)
        if lifetime in LIFETIMES_DAYS:
            asked.expires_at.FromDatetime(datetime.now(UTC) + timedelta(days=int(lifetime)))
        if lifetime and lifetime not in LIFETIMES_DAYS:
            created: Any = Refusal("invalid", 400, fields=frozenset({"expires_at"}))
        else:
            created = await call(backends.registry.CreateApiKey, asked)
        return await issued_or_refused(
            created,
            show,
            request,
            principal,
            {"name": name, "scopes": chosen, "lifetime": lifetime},
            lambda created: {"name": created.api_key.name, "secret": created.secret},
        )

    @admin
    async def revoke(request: Request, principal: Principal) -> Response:
        # The token first: a forged form learns nothing, not even whether the key exists.
        await checked_form(request, principal)
        await ask(
            backends.registry.RevokeApiKey,
            registry_pb2.RevokeApiKeyRequest(
                tenant_id=principal.tenant_id, api_key_id=object_id(request, "api_key_id")
            ),
        )
        return RedirectResponse(f"{PAGE}?notice=revoked", status_code=303)

    return [
        Route(PAGE, api_keys, methods=["GET"], name="settings_api_keys"),
        Route(PAGE, create, methods=["POST"], name="api_key_create"),
        Route(f"{PAGE}/{{api_key_id}}/revoke", revoke, methods=["POST"], name="api_key_revoke"),
    ]


def key_row(key: registry_pb2.ApiKey) -> dict[str, Any]:
    return {
        "id": key.id,
        "name": key.name,
        "scopes": list(key.scopes),
        "created_at": moment_of(key.created_at),
        "expires_at": moment_of(key.expires_at),
        "revoked_at": moment_of(key.revoked_at),
    }
