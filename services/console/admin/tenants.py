"""The operator's tenants: listed by creation a page at a time with their count, created as
the operator's API creates them (the first admin API key shown once), suspended (their
keys and devices stop authenticating) and resumed."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from gantry.v1 import registry_pb2
from google.protobuf.field_mask_pb2 import FieldMask
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from services.console.admin.calls import call, issued_or_refused
from services.console.backend import ask, checked_form, object_id
from services.console.pages import Pages
from services.console.people.context import PeopleContext, page_of
from services.console.people.refusals import Refusal
from services.console.people.settings_people import version_of
from services.console.people.sign_up import SIZE_CLASSES, countries, size_class_of
from services.console.plant_values import moment_of
from services.console.sessions import Principal, requires
from services.kit.grpc_clients import Backends

PAGE = "/operator/tenants"
PAGE_SIZE = 50
NOTICES = frozenset({"suspended", "resumed"})
STATUSES = {"suspend": registry_pb2.TENANT_STATUS_SUSPENDED, "resume": registry_pb2.TENANT_STATUS_ACTIVE}


def routes(backends: Backends, pages: Pages) -> list[Route]:
    operator = requires(backends, "operator")

    async def show(request: Request, principal: Principal, status: int = 200, **context: Any) -> Response:
        listed = await ask(
            backends.registry.ListTenants,
            registry_pb2.ListTenantsRequest(page=page_of(request, PAGE_SIZE)),
        )
        return pages.render(
            request,
            "admin/tenants.html",
            status,
            principal=principal,
            tenants=[tenant_row(tenant) for tenant in listed.tenants],
            total=listed.page.total,
            next_cursor=listed.page.next_cursor,
            countries=countries(pages, request),
            size_classes=SIZE_CLASSES,
            notice=PeopleContext.notice(request, NOTICES),
            **{"refusal": None, "issued": None, "entered": {}, **context},
        )

    @operator
    async def tenants(request: Request, principal: Principal) -> Response:
        return await show(request, principal)

    @operator
    async def create(request: Request, principal: Principal) -> Response:
        form = await checked_form(request, principal)
        entered = {name: form.get(name, "").strip() for name in ("name", "country", "size_class")}
        created = await call(
            backends.registry.CreateTenant,
            registry_pb2.CreateTenantRequest(
                name=entered["name"],
                country=entered["country"],
                size_class=size_class_of(entered["size_class"]),
            ),
        )
        return await issued_or_refused(
            created,
            show,
            request,
            principal,
            entered,
            lambda created: {"name": created.tenant.name, "api_key": created.api_key},
        )

    def change_status(action: str) -> Callable[[Request], Awaitable[Response]]:
        @operator
        async def changed(request: Request, principal: Principal) -> Response:
            form = await checked_form(request, principal)
            answer = await call(
                backends.registry.UpdateTenant,
                registry_pb2.UpdateTenantRequest(
                    tenant_id=object_id(request, "tenant_id"),
                    expected_version=version_of(form),
                    update_mask=FieldMask(paths=["status"]),
                    status=STATUSES[action],
                ),
            )
            if isinstance(answer, Refusal):
                if answer.problem == "not_found":
                    raise HTTPException(404, "no such tenant")
                return await show(request, principal, answer.status, refusal=answer)
            return RedirectResponse(f"{PAGE}?notice={action}ed", status_code=303)

        return changed

    return [
        Route(PAGE, tenants, methods=["GET"], name="operator_tenants"),
        Route(PAGE, create, methods=["POST"], name="tenant_create"),
        *(
            Route(
                f"{PAGE}/{{tenant_id}}/{action}",
                change_status(action),
                methods=["POST"],
                name=f"tenant_{action}",
            )
            for action in STATUSES
        ),
    ]


def tenant_row(tenant: registry_pb2.Tenant) -> dict[str, Any]:
    return {
        "id": tenant.id,
        "name": tenant.name,
        "country": tenant.country,
        "size_class": registry_pb2.SizeClass.Name(tenant.size_class).removeprefix("SIZE_CLASS_").lower(),
        "suspended": tenant.status == registry_pb2.TENANT_STATUS_SUSPENDED,
        "created_at": moment_of(tenant.created_at),
        "version": tenant.version,
    }
