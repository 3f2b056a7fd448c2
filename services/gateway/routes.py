"""The partner API's routes: each translates HTTP to one gRPC call and back."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from gantry.v1 import common_pb2 as common_pb
from gantry.v1 import registry_pb2 as registry_pb
from gantry.v1 import telemetry_pb2 as telemetry_pb
from google.protobuf import duration_pb2, field_mask_pb2, json_format, struct_pb2
from google.protobuf.message import Message
from starlette.responses import Response, StreamingResponse

from services.gateway import schemas
from services.gateway.auth import OPERATOR
from services.gateway.clients import call, open_stream
from services.gateway.endpoints import CSV, Call, Endpoint, json_response
from services.gateway.problems import Problem
from services.kit.errors import FieldViolation
from services.kit.protos import enum_name, enum_number, from_timestamp, timestamp


def rfc3339(message: Any) -> str:
    return from_timestamp(message).isoformat().replace("+00:00", "Z")


def optional_rfc3339(message: Message, field: str) -> str | None:
    return rfc3339(getattr(message, field)) if message.HasField(field) else None


def tenant_json(tenant: registry_pb.Tenant) -> dict[str, Any]:
    return {
        "id": tenant.id,
        "name": tenant.name,
        "country": tenant.country,
        "size_class": enum_name(registry_pb.SizeClass, tenant.size_class, "SIZE_CLASS_"),
        "status": enum_name(registry_pb.TenantStatus, tenant.status, "TENANT_STATUS_"),
        "version": tenant.version,
        "created_at": rfc3339(tenant.created_at),
        "updated_at": rfc3339(tenant.updated_at),
    }


def device_json(device: registry_pb.Device) -> dict[str, Any]:
    return {
        "id": device.id,
        "tenant_id": device.tenant_id,
        "serial_number": device.serial_number,
        "display_name": device.display_name,
        "profile_id": device.profile_id,
        "profile_version": device.profile_version,
        "site": device.site,
        "production_line": device.production_line,
        "labels": dict(device.labels),
        "attributes": json_format.MessageToDict(device.attributes),
        "firmware_version": device.firmware_version,
        "state": enum_name(registry_pb.DeviceState, device.state, "DEVICE_STATE_"),
        "connectivity": enum_name(registry_pb.Connectivity, device.connectivity, "CONNECTIVITY_"),
        "last_seen_at": optional_rfc3339(device, "last_seen_at"),
        "version": device.version,
        "created_at": rfc3339(device.created_at),
        "updated_at": rfc3339(device.updated_at),
    }


def channel_json(channel: registry_pb.Channel) -> dict[str, Any]:
    return {
        "key": channel.key,
        "value_type": enum_name(registry_pb.ValueType, channel.value_type, "VALUE_TYPE_"),
        "unit": channel.unit,
        "allowed_values": list(channel.allowed_values),
        "min": channel.min if channel.HasField("min") else None,
        "max": channel.max if channel.HasField("max") else None,
        "sample_interval_ms": channel.sample_interval_ms,
    }


def channel_message(channel: dict[str, Any]) -> registry_pb.Channel:
    bounds = {name: channel[name] for name in ("min", "max") if channel[name] is not None}
    return registry_pb.Channel(
        key=channel["key"],
        value_type=enum_number(registry_pb.ValueType, channel["value_type"], "VALUE_TYPE_"),
        unit=channel["unit"],
        allowed_values=channel["allowed_values"],
        sample_interval_ms=channel["sample_interval_ms"],
        **bounds,
    )


def profile_json(profile: registry_pb.DeviceProfile) -> dict[str, Any]:
    return {
        "id": profile.id,
        "tenant_id": profile.tenant_id,
        "name": profile.name,
        "manufacturer": profile.manufacturer,
        "model": profile.model,
        "version": profile.version,
        "latest_version": profile.latest_version,
        "channels": [channel_json(c) for c in profile.channels],
        "created_at": rfc3339(profile.created_at),
        "updated_at": rfc3339(profile.updated_at),
    }


def reading_json(reading: telemetry_pb.Reading) -> dict[str, Any]:
    value = reading.value
    return {
        "channel": reading.channel,
        "ts": rfc3339(reading.ts),
        "value": getattr(value, value.WhichOneof("kind")),
    }


def page_request(query: dict[str, Any]) -> common_pb.PageRequest:
    """The page a list call asks for, from its `limit` and `cursor` query parameters."""
    return common_pb.PageRequest(page_size=query["limit"], cursor=query["cursor"])


def etag(message: Message) -> str:
    return f'"{message.version}"'


async def create_tenant(c: Call) -> Response:
    request = registry_pb.CreateTenantRequest(
        name=c.body["name"],
        country=c.body["country"],
        size_class=enum_number(registry_pb.SizeClass, c.body["size_class"], "SIZE_CLASS_"),
    )
    reply = await call(c.backends.registry.CreateTenant, request)
    body = {**tenant_json(reply.tenant), "api_key": reply.api_key}
    return json_response(body, 201, {"Location": f"/v1/tenants/{reply.tenant.id}"})


async def get_tenant(c: Call) -> Response:
    tenant_id = c.path("tenant_id")
    if c.caller is None or (not c.caller.is_operator and c.caller.tenant_id != tenant_id):
        raise Problem(404, "not-found", "tenant not found")
    tenant = await call(c.backends.registry.GetTenant, registry_pb.GetTenantRequest(tenant_id=tenant_id))
    return json_response(tenant_json(tenant), headers={"ETag": etag(tenant)})


async def list_tenants(c: Call) -> Response:
    q = c.query
    request = registry_pb.ListTenantsRequest(
        page=page_request(c.query),
        country=q["country"],
        status=enum_number(registry_pb.TenantStatus, q["status"], "TENANT_STATUS_") if q["status"] else 0,
    )
    found = await call(c.backends.registry.ListTenants, request, field_prefix="page.")
    body = {"items": [tenant_json(t) for t in found.tenants], "next_cursor": found.page.next_cursor}
    if found.page.total >= 0:
        body["total"] = found.page.total
    return json_response(body)


async def update_tenant(c: Call) -> Response:
    changes = dict(c.body)
    for field, enum, prefix in (
        ("size_class", registry_pb.SizeClass, "SIZE_CLASS_"),
        ("status", registry_pb.TenantStatus, "TENANT_STATUS_"),
    ):
        if field in changes:
            changes[field] = enum_number(enum, changes[field], prefix)
    request = registry_pb.UpdateTenantRequest(
        tenant_id=c.path("tenant_id"),
        expected_version=c.expected_version(),
        update_mask=field_mask_pb2.FieldMask(paths=sorted(changes)),
        **changes,
    )
    tenant = await call(c.backends.registry.UpdateTenant, request)
    return json_response(tenant_json(tenant), headers={"ETag": etag(tenant)})


async def create_profile(c: Call) -> Response:
    request = registry_pb.CreateProfileRequest(
        tenant_id=c.tenant_id,
        name=c.body["name"],
        manufacturer=c.body["manufacturer"],
        model=c.body["model"],
        channels=[channel_message(channel) for channel in c.body["channels"]],
    )
    profile = await call(c.backends.registry.CreateProfile, request)
    return json_response(profile_json(profile), 201, {"Location": f"/v1/device-profiles/{profile.id}"})


async def get_profile(c: Call) -> Response:
    request = registry_pb.GetProfileRequest(tenant_id=c.tenant_id, profile_id=c.path("profile_id"))
    profile = await call(c.backends.registry.GetProfile, request)
    return json_response(profile_json(profile), headers={"ETag": f'"{profile.latest_version}"'})


async def list_profiles(c: Call) -> Response:
    request = registry_pb.ListProfilesRequest(tenant_id=c.tenant_id, page=page_request(c.query))
    found = await call(c.backends.registry.ListProfiles, request, field_prefix="page.")
    return json_response(
        {"items": [profile_json(p) for p in found.profiles], "next_cursor": found.page.next_cursor}
    )


async def update_profile(c: Call) -> Response:
    changes = dict(c.body)
    channels = [channel_message(channel) for channel in changes.pop("channels", [])]
    request = registry_pb.UpdateProfileRequest(
        tenant_id=c.tenant_id,
        profile_id=c.path("profile_id"),
        expected_version=c.expected_version(),
        update_mask=field_mask_pb2.FieldMask(paths=sorted(c.body)),
        channels=channels,
        **changes,
    )
    profile = await call(c.backends.registry.UpdateProfile, request)
    return json_response(profile_json(profile), headers={"ETag": f'"{profile.latest_version}"'})


def device_spec(body: dict[str, Any]) -> registry_pb.DeviceSpec:
    spec = registry_pb.DeviceSpec(**{**body, "profile_id": str(body["profile_id"]), "attributes": None})
    spec.attributes.update(body["attributes"])
    return spec


def registered_json(reply: registry_pb.RegisterDeviceResponse) -> dict[str, Any]:
    return {**device_json(reply.device), "access_token": reply.access_token}


async def register_device(c: Call) -> Response:
    reply = await call(
        c.backends.registry.RegisterDevice,
        registry_pb.RegisterDeviceRequest(tenant_id=c.tenant_id, device=device_spec(c.body)),
        field_prefix="device.",
    )
    headers = {"Location": f"/v1/devices/{reply.device.id}", "ETag": etag(reply.device)}
    return json_response(registered_json(reply), 201, headers)


async def register_devices(c: Call) -> Response:
    request = registry_pb.RegisterDevicesRequest(
        tenant_id=c.tenant_id, devices=[device_spec(body) for body in c.body["devices"]]
    )
    reply = await call(c.backends.registry.RegisterDevices, request)
    return json_response({"items": [registered_json(r) for r in reply.devices]}, 201)


def credential_json(credential: registry_pb.DeviceCredential) -> dict[str, Any]:
    return {
        "id": credential.id,
        "device_id": credential.device_id,
        "created_at": rfc3339(credential.created_at),
        "valid_from": optional_rfc3339(credential, "valid_from"),
        "valid_until": optional_rfc3339(credential, "valid_until"),
        "revoked_at": optional_rfc3339(credential, "revoked_at"),
    }


async def issue_credential(c: Call) -> Response:
    window = {name: timestamp(value) for name, value in c.body.items() if value is not None}
    request = registry_pb.IssueDeviceCredentialRequest(
        tenant_id=c.tenant_id, device_id=c.path("device_id"), **window
    )
    reply = await call(c.backends.registry.IssueDeviceCredential, request)
    return json_response({**credential_json(reply.credential), "access_token": reply.access_token}, 201)


async def list_credentials(c: Call) -> Response:
    request = registry_pb.ListDeviceCredentialsRequest(tenant_id=c.tenant_id, device_id=c.path("device_id"))
    reply = await call(c.backends.registry.ListDeviceCredentials, request)
    return json_response({"items": [credential_json(credential) for credential in reply.credentials]})


async def revoke_credential(c: Call) -> Response:
    request = registry_pb.RevokeDeviceCredentialRequest(
        tenant_id=c.tenant_id, device_id=c.path("device_id"), credential_id=c.path("credential_id")
    )
    return json_response(credential_json(await call(c.backends.registry.RevokeDeviceCredential, request)))


async def get_device(c: Call) -> Response:
    request = registry_pb.GetDeviceRequest(tenant_id=c.tenant_id, device_id=c.path("device_id"))
    device = await call(c.backends.registry.GetDevice, request)
    return json_response(device_json(device), headers={"ETag": etag(device)})


async def list_devices(c: Call) -> Response:
    q = c.query
    request = registry_pb.ListDevicesRequest(
        tenant_id=c.tenant_id,
        page=page_request(c.query),
        profile_id=str(q["profile_id"] or ""),
        state=enum_number(registry_pb.DeviceState, q["state"], "DEVICE_STATE_") if q["state"] else 0,
        site=q["site"],
        labels=dict(selector.split("=", 1) for selector in q["label"]),
        text=q["q"],
        order_by=q["order_by"],
        include_total=q["include_total"],
    )
    found = await call(c.backends.registry.ListDevices, request, field_prefix="page.")
    body = {
        "items": [device_json(d) for d in found.devices],
        "next_cursor": found.page.next_cursor,
        "total": found.page.total,
    }
    return json_response(body)


async def update_device(c: Call) -> Response:
    changes = dict(c.body)
    attributes = changes.pop("attributes", None)
    request = registry_pb.UpdateDeviceRequest(
        tenant_id=c.tenant_id,
        device_id=c.path("device_id"),
        expected_version=c.expected_version(),
        update_mask=field_mask_pb2.FieldMask(paths=sorted(c.body)),
        **changes,
    )
    if attributes is not None:
        request.attributes.update(attributes)
    device = await call(c.backends.registry.UpdateDevice, request)
    return json_response(device_json(device), headers={"ETag": etag(device)})


async def change_device_state(c: Call) -> Response:
    request = registry_pb.ChangeDeviceStateRequest(
        tenant_id=c.tenant_id,
        device_id=c.path("device_id"),
        expected_version=c.expected_version(),
        state=enum_number(registry_pb.DeviceState, c.body["state"], "DEVICE_STATE_"),
    )
    device = await call(c.backends.registry.ChangeDeviceState, request)
    return json_response(device_json(device), headers={"ETag": etag(device)})


def api_key_json(key: registry_pb.ApiKey) -> dict[str, Any]:
    return {
        "id": key.id,
        "name": key.name,
        "scopes": list(key.scopes),
        "created_at": rfc3339(key.created_at),
        "expires_at": optional_rfc3339(key, "expires_at"),
        "revoked_at": optional_rfc3339(key, "revoked_at"),
    }


async def create_api_key(c: Call) -> Response:
    expires = {"expires_at": timestamp(c.body["expires_at"])} if c.body["expires_at"] else {}
    request = registry_pb.CreateApiKeyRequest(
        tenant_id=c.tenant_id, name=c.body["name"], scopes=c.body["scopes"], **expires
    )
    reply = await call(c.backends.registry.CreateApiKey, request)
    body = {**api_key_json(reply.api_key), "secret": reply.secret}
    return json_response(body, 201, {"Location": f"/v1/api-keys/{reply.api_key.id}"})


async def list_api_keys(c: Call) -> Response:
    request = registry_pb.ListApiKeysRequest(tenant_id=c.tenant_id, page=page_request(c.query))
    found = await call(c.backends.registry.ListApiKeys, request, field_prefix="page.")
    body = {
        "items": [api_key_json(k) for k in found.api_keys],
        "next_cursor": found.page.next_cursor,
        "total": found.page.total,
    }
    return json_response(body)


async def revoke_api_key(c: Call) -> Response:
    request = registry_pb.RevokeApiKeyRequest(tenant_id=c.tenant_id, api_key_id=c.path("api_key_id"))
    return json_response(api_key_json(await call(c.backends.registry.RevokeApiKey, request)))


async def get_latest(c: Call) -> Response:
    request = telemetry_pb.GetLatestRequest(tenant_id=c.tenant_id, device_id=c.path("device_id"))
    latest = await call(c.backends.telemetry.GetLatest, request)
    return json_response({"device_id": latest.device_id, "values": [reading_json(v) for v in latest.values]})


def period(c: Call) -> dict[str, Any]:
    return {"start": timestamp(c.query["start"]), "end": timestamp(c.query["end"])}


async def query_readings(c: Call) -> Response:
    request = telemetry_pb.QueryRangeRequest(
        tenant_id=c.tenant_id,
        device_id=c.path("device_id"),
        channels=c.query["channel"],
        page=page_request(c.query),
        **period(c),
    )
    page = await call(c.backends.telemetry.QueryRange, request, field_prefix="page.")
    return json_response(
        {"items": [reading_json(r) for r in page.readings], "next_cursor": page.page.next_cursor}
    )


def bucket_json(bucket: telemetry_pb.Bucket, aggregates: list[str]) -> dict[str, Any]:
    found: dict[str, Any] = {"start": rfc3339(bucket.start)}
    for name in aggregates:
        value = getattr(bucket, name)
        found[name] = getattr(value, value.WhichOneof("kind")) if name in ("first", "last") else value
    return found


async def query_series(c: Call) -> Response:
    request = telemetry_pb.QuerySeriesRequest(
        tenant_id=c.tenant_id,
        device_id=c.path("device_id"),
        channel=c.query["channel"],
        bucket=duration_pb2.Duration(seconds=c.query["bucket"]),
        aggregates=[enum_number(telemetry_pb.Aggregate, name, "") for name in c.query["aggregate"]],
        **period(c),
    )
    series = await call(c.backends.telemetry.QuerySeries, request)
    aggregates = [telemetry_pb.Aggregate.Name(number).lower() for number in series.aggregates]
    body = {
        "device_id": series.device_id,
        "channel": series.channel,
        "bucket": series.bucket.seconds,
        "aggregates": aggregates,
        "buckets": [bucket_json(b, aggregates) for b in series.buckets],
    }
    return json_response(body)


async def export_readings(c: Call) -> Response:
    device_id = c.path("device_id")
    request = telemetry_pb.ExportCsvRequest(
        tenant_id=c.tenant_id, device_id=device_id, channels=c.query["channel"], **period(c)
    )
    first, rest = await open_stream(c.backends.telemetry.ExportCsv, request)

    async def chunks() -> AsyncIterator[bytes]:
        if first is not None:
            yield first.data
            async for chunk in rest:
                yield chunk.data

    disposition = {"Content-Disposition": f'attachment; filename="{device_id}.csv"'}
    return StreamingResponse(chunks(), media_type=CSV, headers=disposition)


INGEST_MAX_BODY_BYTES = 8 * 1024 * 1024
BULK_MAX_BODY_BYTES = 8 * 1024 * 1024


def ingest_json(result: telemetry_pb.IngestResponse) -> dict[str, Any]:
    return {
        "accepted": result.accepted,
        "rejected": result.rejected,
        "rejections": [
            {
                "device_index": r.device_index,
                "sample_index": r.sample_index,
                "channel": r.channel,
                "reason": telemetry_pb.RejectionReason.Name(r.reason).lower(),
                "detail": r.detail,
            }
            for r in result.rejections
        ],
        "out_of_range": [
            {
                "device_index": f.device_index,
                "sample_index": f.sample_index,
                "channel": f.channel,
                "detail": f.detail,
            }
            for f in result.out_of_range
        ],
    }


async def ingest_telemetry(c: Call) -> Response:
    request = telemetry_pb.IngestJsonRequest(
        tenant_id=c.tenant_id, format=telemetry_pb.JSON_FORMAT_BATCH, body=c.raw
    )
    return json_response(ingest_json(await call(c.backends.telemetry.IngestJson, request)))


async def report_attributes(c: Call) -> Response:
    assert c.device is not None
    attributes = struct_pb2.Struct()
    attributes.update(c.body)
    request = registry_pb.ReportClientAttributesRequest(
        tenant_id=c.device.tenant_id, device_id=c.device.device_id, attributes=attributes
    )
    await call(c.backends.registry.ReportClientAttributes, request)
    return Response(status_code=200)


async def get_attributes(c: Call) -> Response:
    assert c.device is not None
    request = registry_pb.GetDeviceAttributesRequest(
        tenant_id=c.device.tenant_id,
        device_id=c.device.device_id,
        client_keys=[k for k in c.query["clientKeys"].split(",") if k],
        shared_keys=[k for k in c.query["sharedKeys"].split(",") if k],
    )
    found = await call(c.backends.registry.GetDeviceAttributes, request)
    return json_response(
        {"client": json_format.MessageToDict(found.client), "shared": json_format.MessageToDict(found.shared)}
    )


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
            for r in ingest_json(result)["rejections"]
        ]
        raise Problem(
            400, "bad-payload", f"{result.accepted} readings accepted, {result.rejected} refused", refused
        )
    return Response(status_code=200)


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
        query=schemas.PageQuery,
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
    Endpoint(
        "POST",
        "/v1/device-profiles",
        create_profile,
        "Create a device profile: a device model and its typed sensor channels",
        "device profiles",
        scope="devices:write",
        body=schemas.ProfileCreate,
        response=schemas.Profile,
        status=201,
        errors=(401, 403, 404, 413, 415, 422),
    ),
    Endpoint(
        "GET",
        "/v1/device-profiles",
        list_profiles,
        "List the device profiles of the caller's tenant, at their latest versions",
        "device profiles",
        scope="devices:read",
        query=schemas.PageQuery,
        response=schemas.ProfileList,
        errors=(401, 403, 422),
    ),
    Endpoint(
        "PATCH",
        "/v1/device-profiles/{profile_id}",
        update_profile,
        "Change a device profile; new channels make a new version, devices stay on theirs",
        "device profiles",
        scope="devices:write",
        body=schemas.ProfilePatch,
        response=schemas.Profile,
        precondition=True,
        errors=(401, 403, 404, 412, 413, 415, 422, 428),
    ),
    Endpoint(
        "GET",
        "/v1/device-profiles/{profile_id}",
        get_profile,
        "Get the latest version of a device profile",
        "device profiles",
        scope="devices:read",
        response=schemas.Profile,
        errors=(401, 403, 404, 422),
    ),
    Endpoint(
        "POST",
        "/v1/devices",
        register_device,
        "Register a device; the answer holds its first access token",
        "devices",
        scope="devices:write",
        body=schemas.DeviceCreate,
        response=schemas.DeviceCreated,
        status=201,
        errors=(401, 403, 409, 413, 415, 422),
    ),
    Endpoint(
        "GET",
        "/v1/devices",
        list_devices,
        "List devices, filtered and sorted, a page at a time",
        "devices",
        scope="devices:read",
        query=schemas.DeviceListQuery,
        response=schemas.DeviceList,
        errors=(401, 403, 422),
    ),
    Endpoint(
        "PATCH",
        "/v1/devices/{device_id}",
        update_device,
        "Change some fields of a device",
        "devices",
        scope="devices:write",
        body=schemas.DevicePatch,
        response=schemas.Device,
        precondition=True,
        errors=(401, 403, 404, 409, 412, 413, 415, 422, 428),
    ),
    Endpoint(
        "POST",
        "/v1/devices/{device_id}/state",
        change_device_state,
        "Move a device through its lifecycle (provisioned, active, suspended, decommissioned)",
        "devices",
        scope="devices:write",
        body=schemas.StateChange,
        response=schemas.Device,
        precondition=True,
        errors=(401, 403, 404, 409, 412, 413, 415, 422, 428),
    ),
    Endpoint(
        "GET",
        "/v1/devices/{device_id}",
        get_device,
        "Get a device",
        "devices",
        scope="devices:read",
        response=schemas.Device,
        errors=(401, 403, 404, 422),
    ),
    Endpoint(
        "GET",
        "/v1/devices/{device_id}/telemetry/latest",
        get_latest,
        "Latest value of every channel of a device",
        "telemetry",
        scope="telemetry:read",
        response=schemas.LatestValues,
        errors=(401, 403, 404, 422),
    ),
    Endpoint(
        "POST",
        "/v1/telemetry",
        ingest_telemetry,
        "Send readings of many devices at once; each bad reading is reported, the rest accepted",
        "telemetry",
        scope="telemetry:write",
        body=schemas.TelemetryBatch,
        raw_body=True,
        max_body_bytes=INGEST_MAX_BODY_BYTES,
        response=schemas.IngestResult,
        errors=(401, 403, 413, 415, 422, 503),
    ),
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
        "/v1/devices/bulk",
        register_devices,
        "Register up to 5,000 devices at once, all or none; each answer holds its first access token",
        "devices",
        scope="devices:write",
        body=schemas.DeviceBulkCreate,
        max_body_bytes=BULK_MAX_BODY_BYTES,
        response=schemas.DeviceBulkCreated,
        status=201,
        errors=(401, 403, 404, 409, 413, 415, 422),
    ),
    Endpoint(
        "POST",
        "/v1/devices/{device_id}/credentials",
        issue_credential,
        "Issue another access token of a device, for rotation without downtime; shown once",
        "devices",
        scope="devices:write",
        body=schemas.CredentialCreate,
        response=schemas.CredentialCreated,
        status=201,
        errors=(401, 403, 404, 413, 415, 422),
    ),
    Endpoint(
        "GET",
        "/v1/devices/{device_id}/credentials",
        list_credentials,
        "List a device's access tokens (never the tokens themselves)",
        "devices",
        scope="devices:read",
        response=schemas.CredentialList,
        errors=(401, 403, 404, 422),
    ),
    Endpoint(
        "DELETE",
        "/v1/devices/{device_id}/credentials/{credential_id}",
        revoke_credential,
        "Revoke an access token; it stops working everywhere within seconds",
        "devices",
        scope="devices:write",
        response=schemas.Credential,
        errors=(401, 403, 404, 422),
    ),
    Endpoint(
        "GET",
        "/v1/devices/{device_id}/telemetry",
        query_readings,
        "A device's readings in a period, by time then channel, a page at a time",
        "telemetry",
        scope="telemetry:read",
        query=schemas.ReadingsPageQuery,
        response=schemas.ReadingList,
        errors=(401, 403, 404, 422),
    ),
    Endpoint(
        "GET",
        "/v1/devices/{device_id}/telemetry/series",
        query_series,
        "One channel of a device downsampled into buckets (min, max, avg, count, first, last)",
        "telemetry",
        scope="telemetry:read",
        query=schemas.SeriesQuery,
        response=schemas.SeriesResult,
        errors=(401, 403, 404, 422),
    ),
    Endpoint(
        "GET",
        "/v1/devices/{device_id}/telemetry/export",
        export_readings,
        "A device's readings in a period as CSV (ts, channel, value), streamed",
        "telemetry",
        scope="telemetry:read",
        query=schemas.ReadingsQuery,
        response=None,
        media_type=CSV,
        errors=(401, 403, 404, 422),
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
