"""Server-side RPC: a partner calls a device's method through the registry, which has a
protocol adapter deliver it, and reads what became of its calls."""

from __future__ import annotations

import orjson
from gantry.v1 import registry_pb2 as pb
from starlette.responses import Response

from services.gateway.clients import CALL_TIMEOUT_SECONDS, call
from services.gateway.endpoints import Call, Endpoint, json_response
from services.gateway.problems import Problem
from services.gateway.protojson import page_json, page_request, to_json
from services.gateway.schemas import rpcs as schemas

# Beyond the RPC's own timeout, what the registry's answer may take.
MARGIN_SECONDS = CALL_TIMEOUT_SECONDS
# A one-way call's outcome, and a two-way call's.
_DONE = (pb.RPC_STATUS_DELIVERED, pb.RPC_STATUS_SUCCEEDED)


def _location(rpc: pb.Rpc) -> dict[str, str]:
    return {"Location": f"/v1/devices/{rpc.device_id}/rpc/{rpc.id}"}


async def send_rpc(c: Call) -> Response:
    body = c.body
    request = pb.SendRpcRequest(
        tenant_id=c.tenant_id,
        device_id=c.path("device_id"),
        method=body["method"],
        params_json=orjson.dumps(body["params"]).decode(),
        one_way=body["one_way"],
        timeout_ms=body["timeout_ms"],
        expires_in_seconds=body["expires_in_seconds"],
    )
    timeout = body["timeout_ms"] / 1000 + MARGIN_SECONDS
    rpc = await call(c.backends.registry.SendRpc, request, timeout=timeout)
    if rpc.status not in _DONE:
        raise _timed_out(rpc)
    return json_response(to_json(rpc), headers=_location(rpc))


def _timed_out(rpc: pb.Rpc) -> Problem:
    then = (
        "it has expired"
        if rpc.status == pb.RPC_STATUS_EXPIRED
        else f"it waits for the device until {rpc.expires_at.ToJsonString()}"
    )
    return Problem(
        504,
        "rpc-timeout",
        f"the device did not {'take' if rpc.one_way else 'answer'} RPC {rpc.id} within "
        f"{rpc.timeout_ms} ms; {then} (GET /v1/devices/{rpc.device_id}/rpc/{rpc.id})",
        headers=_location(rpc),
    )


async def get_rpc(c: Call) -> Response:
    request = pb.GetRpcRequest(tenant_id=c.tenant_id, device_id=c.path("device_id"), rpc_id=c.path("rpc_id"))
    return json_response(to_json(await call(c.backends.registry.GetRpc, request)))


async def list_rpcs(c: Call) -> Response:
    request = pb.ListRpcsRequest(
        tenant_id=c.tenant_id, device_id=c.path("device_id"), page=page_request(c.query)
    )
    found = await call(c.backends.registry.ListRpcs, request, field_prefix="page.")
    return json_response(page_json(found.rpcs, found.page))


ENDPOINTS = [
    Endpoint(
        "POST",
        "/v1/devices/{device_id}/rpc",
        send_rpc,
        "Call a device's method (server-side RPC); the answer, or 504 when the timeout runs out",
        "devices",
        scope="devices:write",
        body=schemas.RpcCreate,
        response=schemas.Rpc,
        errors=(401, 403, 404, 409, 413, 415, 422, 504),
    ),
    Endpoint(
        "GET",
        "/v1/devices/{device_id}/rpc",
        list_rpcs,
        "List a device's RPCs, newest first, with their status",
        "devices",
        scope="devices:read",
        query=schemas.RpcListQuery,
        response=schemas.RpcList,
        errors=(401, 403, 404, 422),
    ),
    Endpoint(
        "GET",
        "/v1/devices/{device_id}/rpc/{rpc_id}",
        get_rpc,
        "Get one of a device's RPCs: its status and the device's answer",
        "devices",
        scope="devices:read",
        response=schemas.Rpc,
        errors=(401, 403, 404, 422),
    ),
]
