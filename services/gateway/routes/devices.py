"""Device profiles, devices (one or many at once, their lifecycle), and devices' access
tokens (credentials)."""

from __future__ import annotations

from typing import Any

from gantry.v1 import registry_pb2 as pb
from starlette.responses import Response

from services.gateway.clients import call
from services.gateway.endpoints import Call, Endpoint, etag, json_response
from services.gateway.protojson import page_json, to_json, to_message
from services.gateway.schemas import devices as schemas
from services.gateway.schemas.common import PageQuery

BULK_MAX_BODY_BYTES = 8 * 1024 * 1024
# A credential's tenant is the caller's own: answers never showed it.
_CREDENTIAL_OMITS = ("tenant_id",)


def _profile_response(profile: pb.DeviceProfile, status: int = 200) -> Response:
    # A profile's ETag is its latest version: changes to any version make a new one.
    headers = etag(profile.latest_version)
    if status == 201:
        headers = {"Location": f"/v1/device-profiles/{profile.id}"}
    return json_response(to_json(profile), status, headers)


async def create_profile(c: Call) -> Response:
    request = to_message(pb.CreateProfileRequest, c.body, tenant_id=c.tenant_id)
    return _profile_response(await call(c.backends.registry.CreateProfile, request), 201)


async def _profile(c: Call) -> pb.DeviceProfile:
    request = pb.GetProfileRequest(tenant_id=c.tenant_id, profile_id=c.path("profile_id"))
    return await call(c.backends.registry.GetProfile, request)


async def _profile_version(c: Call) -> int:
    return (await _profile(c)).latest_version


async def get_profile(c: Call) -> Response:
    return _profile_response(await _profile(c))


async def list_profiles(c: Call) -> Response:
    request = to_message(pb.ListProfilesRequest, c.query, tenant_id=c.tenant_id)
    found = await call(c.backends.registry.ListProfiles, request, field_prefix="page.")
    return json_response(page_json(found.profiles, found.page))


async def update_profile(c: Call) -> Response:
    request = await c.change(
        pb.UpdateProfileRequest,
        partial=True,
        current=_profile_version,
        tenant_id=c.tenant_id,
        profile_id=c.path("profile_id"),
    )
    return _profile_response(await call(c.backends.registry.UpdateProfile, request))


def _device_response(device: pb.Device) -> Response:
    return json_response(to_json(device), headers=etag(device.version))


def _registered_json(reply: pb.RegisterDeviceResponse) -> dict[str, Any]:
    return {**to_json(reply.device), "access_token": reply.access_token}


async def register_device(c: Call) -> Response:
    request = pb.RegisterDeviceRequest(tenant_id=c.tenant_id, device=to_message(pb.DeviceSpec, c.body))
    reply = await call(c.backends.registry.RegisterDevice, request, field_prefix="device.")
    headers = {"Location": f"/v1/devices/{reply.device.id}", **etag(reply.device.version)}
    return json_response(_registered_json(reply), 201, headers)


async def register_devices(c: Call) -> Response:
    request = to_message(pb.RegisterDevicesRequest, c.body, tenant_id=c.tenant_id)
    reply = await call(c.backends.registry.RegisterDevices, request)
    return json_response({"items": [_registered_json(r) for r in reply.devices]}, 201)


async def _device(c: Call) -> pb.Device:
    request = pb.GetDeviceRequest(tenant_id=c.tenant_id, device_id=c.path("device_id"))
    return await call(c.backends.registry.GetDevice, request)


async def _device_version(c: Call) -> int:
    return (await _device(c)).version


async def get_device(c: Call) -> Response:
    return _device_response(await _device(c))


async def list_devices(c: Call) -> Response:
    selectors = dict(selector.split("=", 1) for selector in c.query["labels"])
    request = to_message(pb.ListDevicesRequest, {**c.query, "labels": selectors}, tenant_id=c.tenant_id)
    found = await call(c.backends.registry.ListDevices, request, field_prefix="page.")
    return json_response({**page_json(found.devices, found.page), "total": found.page.total})


async def update_device(c: Call) -> Response:
    request = await c.change(
        pb.UpdateDeviceRequest,
        partial=True,
        current=_device_version,
        tenant_id=c.tenant_id,
        device_id=c.path("device_id"),
    )
    return _device_response(await call(c.backends.registry.UpdateDevice, request))


async def change_device_state(c: Call) -> Response:
    request = await c.change(
        pb.ChangeDeviceStateRequest,
        partial=False,
        current=_device_version,
        tenant_id=c.tenant_id,
        device_id=c.path("device_id"),
    )
    return _device_response(await call(c.backends.registry.ChangeDeviceState, request))


async def issue_credential(c: Call) -> Response:
    request = to_message(
        pb.IssueDeviceCredentialRequest, c.body, tenant_id=c.tenant_id, device_id=c.path("device_id")
    )
    reply = await call(c.backends.registry.IssueDeviceCredential, request)
    body = {**to_json(reply.credential, _CREDENTIAL_OMITS), "access_token": reply.access_token}
    return json_response(body, 201)


async def list_credentials(c: Call) -> Response:
    request = pb.ListDeviceCredentialsRequest(tenant_id=c.tenant_id, device_id=c.path("device_id"))
    reply = await call(c.backends.registry.ListDeviceCredentials, request)
    return json_response({"items": [to_json(item, _CREDENTIAL_OMITS) for item in reply.credentials]})


async def revoke_credential(c: Call) -> Response:
    request = pb.RevokeDeviceCredentialRequest(
        tenant_id=c.tenant_id, device_id=c.path("device_id"), credential_id=c.path("credential_id")
    )
    credential = await call(c.backends.registry.RevokeDeviceCredential, request)
    return json_response(to_json(credential, _CREDENTIAL_OMITS))


ENDPOINTS = [
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
        query=PageQuery,
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
]
