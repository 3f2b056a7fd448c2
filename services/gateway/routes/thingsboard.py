"""ThingsBoard's HTTP device API: a device, authenticated by the access token in the
path, sends readings and client attributes and reads its attributes back, answered as
ThingsBoard answers (200, 400 for any bad payload, 401)."""

from __future__ import annotations

from gantry.v1 import registry_pb2 as registry_pb
from gantry.v1 import telemetry_pb2 as telemetry_pb
from starlette.responses import Response

from services.gateway.clients import call
from services.gateway.endpoints import Call, Endpoint, json_response
from services.gateway.problems import Problem
from services.gateway.protojson import to_json
from services.gateway.routes.telemetry import INGEST_MAX_BODY_BYTES
from services.gateway.schemas import thingsboard as schemas
from services.kit.errors import FieldViolation


def _keys(listed: str) -> list[str]:
    return [key for key in listed.split(",") if key]


async def thingsboard_telemetry(c: Call) -> Response:
    """ThingsBoard's answers: 200 with no body when every reading is accepted, 400 when
    the payload is malformed or any reading is refused (the others are kept)."""
    assert c.device is not None
    request = telemetry_pb.IngestJsonRequest(
        tenant_id=c.device.tenant_id,
        format=telemetry_pb.JSON_FORMAT_THINGSBOARD,
        device_id=c.device.device_id,
        body=c.raw,
    )
    result = await call(c.backends.telemetry.IngestJson, request)
    if result.rejected:
        refused = [
            FieldViolation(r["channel"] or f"[{r['sample_index']}]", f"{r['reason']}: {r['detail']}")
            for r in to_json(result)["rejections"]
        ]
        raise Problem(
            400, "bad-payload", f"{result.accepted} readings accepted, {result.rejected} refused", refused
        )
    return Response(status_code=200)


async def report_attributes(c: Call) -> Response:
    assert c.device is not None
    request = registry_pb.ReportClientAttributesRequest(
        tenant_id=c.device.tenant_id, device_id=c.device.device_id, attributes=c.body
    )
    await call(c.backends.registry.ReportClientAttributes, request)
    return Response(status_code=200)


async def get_attributes(c: Call) -> Response:
    assert c.device is not None
    request = registry_pb.GetDeviceAttributesRequest(
        tenant_id=c.device.tenant_id,
        device_id=c.device.device_id,
        client_keys=_keys(c.query["clientKeys"]),
        shared_keys=_keys(c.query["sharedKeys"]),
    )
    found = await call(c.backends.registry.GetDeviceAttributes, request)
    return json_response(to_json(found, omit=("device_id",)))


ENDPOINTS = [
    Endpoint(
        "POST",
        "/api/v1/{device_token}/telemetry",
        thingsboard_telemetry,
        "Device telemetry, as ThingsBoard's HTTP device API takes it",
        "device api",
        scope=None,
        device_token=True,
        body=schemas.ThingsBoardTelemetry,
        raw_body=True,
        max_body_bytes=INGEST_MAX_BODY_BYTES,
        response=None,
        errors=(400, 401, 413, 415, 503),
    ),
    Endpoint(
        "POST",
        "/api/v1/{device_token}/attributes",
        report_attributes,
        "Client attributes a device reports, as ThingsBoard's HTTP device API takes them",
        "device api",
        scope=None,
        device_token=True,
        body=schemas.ThingsBoardAttributes,
        response=None,
        errors=(400, 401, 413, 415),
    ),
    Endpoint(
        "GET",
        "/api/v1/{device_token}/attributes",
        get_attributes,
        "A device's client and shared attributes, as ThingsBoard's HTTP device API answers them",
        "device api",
        scope=None,
        device_token=True,
        query=schemas.ThingsBoardAttributesQuery,
        response=schemas.ThingsBoardAttributeValues,
        errors=(400, 401),
    ),
]
