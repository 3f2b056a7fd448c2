"""Device provisioning: a profile's settings (the secret shown once), and ThingsBoard's HTTP
provisioning endpoint, answered as ThingsBoard answers (200, the outcome in the body)."""

from __future__ import annotations

from gantry.v1 import registry_pb2 as pb
from starlette.responses import Response

from services.gateway.clients import call
from services.gateway.endpoints import JSON, Call, Endpoint, json_response
from services.gateway.problems import Problem
from services.gateway.protojson import to_json, to_message
from services.gateway.schemas import provisioning as schemas
from services.kit import thingsboard_provisioning as thingsboard


async def set_provisioning(c: Call) -> Response:
    request = to_message(
        pb.SetProfileProvisioningRequest, c.body, tenant_id=c.tenant_id, profile_id=c.path("profile_id")
    )
    reply = await call(c.backends.registry.SetProfileProvisioning, request)
    return json_response({**to_json(reply.provisioning), "provision_secret": reply.provision_secret})


async def get_provisioning(c: Call) -> Response:
    request = pb.GetProfileProvisioningRequest(tenant_id=c.tenant_id, profile_id=c.path("profile_id"))
    return json_response(to_json(await call(c.backends.registry.GetProfileProvisioning, request)))


async def provision(c: Call) -> Response:
    try:
        wanted = thingsboard.request(c.raw)
    except thingsboard.BadRequest as error:
        raise Problem(400, "bad-payload", str(error)) from None
    if wanted.unsupported:
        return Response(thingsboard.FAILURE, media_type=JSON)
    outcome = await call(c.backends.registry.ProvisionDevice, wanted.message())
    return Response(thingsboard.answer(outcome), media_type=JSON)


ENDPOINTS = [
    Endpoint(
        "PUT",
        "/v1/device-profiles/{profile_id}/provisioning",
        set_provisioning,
        "Set how devices of a profile provision themselves (ThingsBoard's strategies); the secret is shown once",
        "device profiles",
        scope="devices:write",
        body=schemas.ProvisioningSet,
        response=schemas.ProvisioningWithSecret,
        errors=(401, 403, 404, 409, 413, 415, 422),
    ),
    Endpoint(
        "GET",
        "/v1/device-profiles/{profile_id}/provisioning",
        get_provisioning,
        "How devices of a profile provision themselves, without the secret",
        "device profiles",
        scope="devices:read",
        response=schemas.Provisioning,
        errors=(401, 403, 404, 422),
    ),
    Endpoint(
        "POST",
        "/api/v1/provision",
        provision,
        "A device provisions itself with its profile's key and secret, as with ThingsBoard's HTTP API",
        "device api",
        scope=None,
        limit_by_address=True,
        body=schemas.ThingsBoardProvisionRequest,
        raw_body=True,
        response=schemas.ThingsBoardProvisionResponse,
        errors=(400, 413, 415),
    ),
]
