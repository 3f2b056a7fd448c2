"""Tenants (the operator's) and API keys (a tenant's admin's)."""

from __future__ import annotations

from gantry.v1 import registry_pb2 as pb
from starlette.responses import Response

from services.gateway.auth import OPERATOR
from services.gateway.clients import call
from services.gateway.endpoints import Call, Endpoint, etag, json_response
from services.gateway.problems import Problem
from services.gateway.protojson import page_json, to_json, to_message
from services.gateway.schemas import common
from services.gateway.schemas import tenants as schemas

# An API key's tenant is the caller's own: answers never showed it.
_KEY_OMITS = ("tenant_id",)


async def create_tenant(c: Call) -> Response:
    reply = await call(c.backends.registry.CreateTenant, to_message(pb.CreateTenantRequest, c.body))
    body = {**to_json(reply.tenant), "api_key": reply.api_key}
    return json_response(body, 201, {"Location": f"/v1/tenants/{reply.tenant.id}"})


async def _tenant(c: Call) -> pb.Tenant:
    return await call(c.backends.registry.GetTenant, pb.GetTenantRequest(tenant_id=c.path("tenant_id")))


async def _tenant_version(c: Call) -> int:
    return (await _tenant(c)).version


async def get_tenant(c: Call) -> Response:
    tenant_id = c.path("tenant_id")
    if c.caller is None or (not c.caller.is_operator and c.caller.tenant_id != tenant_id):
        raise Problem(404, "not-found", "tenant not found")
    tenant = await _tenant(c)
    return json_response(to_json(tenant), headers=etag(tenant.version))


async def list_tenants(c: Call) -> Response:
    request = to_message(pb.ListTenantsRequest, c.query)
    found = await call(c.backends.registry.ListTenants, request, field_prefix="page.")
    body = page_json(found.tenants, found.page)
    if found.page.total >= 0:
        body["total"] = found.page.total
    return json_response(body)


async def update_tenant(c: Call) -> Response:
    request = await c.change(
        pb.UpdateTenantRequest, partial=True, current=_tenant_version, tenant_id=c.path("tenant_id")
    )
    tenant = await call(c.backends.registry.UpdateTenant, request)
    return json_response(to_json(tenant), headers=etag(tenant.version))


async def create_api_key(c: Call) -> Response:
    reply = await call(
        c.backends.registry.CreateApiKey, to_message(pb.CreateApiKeyRequest, c.body, tenant_id=c.tenant_id)
    )
    body = {**to_json(reply.api_key, _KEY_OMITS), "secret": reply.secret}
    return json_response(body, 201, {"Location": f"/v1/api-keys/{reply.api_key.id}"})


async def list_api_keys(c: Call) -> Response:
    request = to_message(pb.ListApiKeysRequest, c.query, tenant_id=c.tenant_id)
    found = await call(c.backends.registry.ListApiKeys, request, field_prefix="page.")
    return json_response({**page_json(found.api_keys, found.page, _KEY_OMITS), "total": found.page.total})


async def revoke_api_key(c: Call) -> Response:
    request = pb.RevokeApiKeyRequest(tenant_id=c.tenant_id, api_key_id=c.path("api_key_id"))
    return json_response(to_json(await call(c.backends.registry.RevokeApiKey, request), _KEY_OMITS))


ENDPOINTS = [
    Endpoint(
        "POST",
        "/v1/api-keys",
        create_api_key,
        "Issue an API key of the caller's tenant; the answer holds the key once",
        "api keys",
        scope="admin",
        body=schemas.ApiKeyCreate,
        response=schemas.ApiKeyCreated,
        status=201,
        errors=(401, 403, 413, 415, 422),
    ),
    Endpoint(
        "GET",
        "/v1/api-keys",
        list_api_keys,
        "List the API keys of the caller's tenant, revoked ones included",
        "api keys",
        scope="admin",
        query=common.PageQuery,
        response=schemas.ApiKeyList,
        errors=(401, 403, 422),
    ),
    Endpoint(
        "DELETE",
        "/v1/api-keys/{api_key_id}",
        revoke_api_key,
        "Revoke an API key; it stops working within seconds",
        "api keys",
        scope="admin",
        response=schemas.ApiKey,
        errors=(401, 403, 404, 422),
    ),
    Endpoint(
        "POST",
        "/v1/tenants",
        create_tenant,
        "Create a tenant and its first admin API key",
        "tenants",
        scope=OPERATOR,
        for_operator=True,
        body=schemas.TenantCreate,
        response=schemas.TenantCreated,
        status=201,
        errors=(401, 403, 413, 415, 422),
    ),
    Endpoint(
        "GET",
        "/v1/tenants",
        list_tenants,
        "List tenants (the operator only), filtered by country or region and status",
        "tenants",
        scope=OPERATOR,
        for_operator=True,
        query=schemas.TenantListQuery,
        response=schemas.TenantList,
        errors=(401, 403, 422),
    ),
    Endpoint(
        "PATCH",
        "/v1/tenants/{tenant_id}",
        update_tenant,
        "Change a tenant (the operator only); suspending one stops its keys and devices",
        "tenants",
        scope=OPERATOR,
        for_operator=True,
        body=schemas.TenantPatch,
        response=schemas.Tenant,
        precondition=True,
        errors=(401, 403, 404, 412, 422, 428),
    ),
    Endpoint(
        "GET",
        "/v1/tenants/{tenant_id}",
        get_tenant,
        "Get a tenant",
        "tenants",
        scope="admin",
        for_operator=True,
        response=schemas.Tenant,
        errors=(401, 403, 404),
    ),
]
