"""The devices: a list searched and filtered a page at a time, forwards and backwards, with
how many match (the registry's keyset cursors both ways, so that a page costs the same over
100,000 devices as over 10), and each device's page: its profile, state, attributes, latest
values, active alarms and access tokens."""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import urlencode

from gantry.v1 import analytics_pb2, common_pb2, registry_pb2, telemetry_pb2
from google.protobuf.json_format import MessageToDict
from starlette.datastructures import QueryParams
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from services.console.backend import ask, checked_form, for_tenant, object_id
from services.console.pages import Pages
from services.console.plant_values import (
    ACTIVE_STATUSES,
    alarm_view,
    connectivity_name,
    device_row,
    moment_of,
    reading_view,
    state_name,
)
from services.console.sessions import CSRF_FIELD, Principal
from services.kit.grpc_clients import Backends

PAGE_SIZE = 50
# The query's cursor of the page after the one read, or the registry's reverse cursor of the
# page before it.
AFTER, BEFORE = "cursor", "before"
PROFILES_LISTED = 200
FILTERS = ("q", "state", "profile", "label")
STATES = ("provisioned", "active", "suspended", "decommissioned")
ORDER = "serial_number"
# Devices counted at most: beyond, the list says "more than" (an exact count of 100,000
# doubles the time of a page).
COUNTED = 1000


def routes(backends: Backends, pages: Pages) -> list[Route]:
    @for_tenant(backends, "devices:read")
    async def device_list(request: Request, principal: Principal) -> Response:
        query = request.query_params
        listing = _listing_request(principal.tenant_id, query)
        found, profiles = await asyncio.gather(
            ask(backends.registry.ListDevices, listing), _profile_names(backends, principal.tenant_id)
        )
        backwards = BEFORE in query
        # A page read backwards comes in the reverse order, and its cursors are swapped.
        listed = list(reversed(found.devices)) if backwards else list(found.devices)
        after, before = (
            (found.previous_cursor, found.page.next_cursor)
            if backwards
            else (found.page.next_cursor, found.previous_cursor if listing.page.cursor else "")
        )
        return pages.render(
            request,
            "plant/devices.html",
            principal=principal,
            devices=[device_row(device, profiles) for device in listed],
            total=found.page.total,
            counted=COUNTED,
            profiles=profiles,
            states=STATES,
            chosen={name: query.get(name, "") for name in FILTERS},
            next_page=_page_url(query, AFTER, after) if after else None,
            previous_page=_page_url(query, BEFORE, before) if before else None,
            first_page=_page_url(query) if listing.page.cursor else None,
        )

    @for_tenant(backends, "devices:read")
    async def device_page(request: Request, principal: Principal) -> Response:
        return await _render_device(request, principal, object_id(request, "device_id"), issued=None)

    @for_tenant(backends, "devices:write")
    async def issue_token(request: Request, principal: Principal) -> Response:
        await checked_form(request, principal)
        device_id = object_id(request, "device_id")
        issued = await ask(
            backends.registry.IssueDeviceCredential,
            registry_pb2.IssueDeviceCredentialRequest(tenant_id=principal.tenant_id, device_id=device_id),
        )
        # Shown once, on the answer to the form itself: never in a URL or a cookie.
        return await _render_device(request, principal, device_id, issued=issued.access_token)

    @for_tenant(backends, "devices:write")
    async def revoke_token(request: Request, principal: Principal) -> Response:
        await checked_form(request, principal)
        device_id = object_id(request, "device_id")
        await ask(
            backends.registry.RevokeDeviceCredential,
            registry_pb2.RevokeDeviceCredentialRequest(
                tenant_id=principal.tenant_id,
                device_id=device_id,
                credential_id=object_id(request, "credential_id"),
            ),
        )
        return await _render_device(request, principal, device_id, issued=None)

    async def _render_device(
        request: Request, principal: Principal, device_id: str, issued: str | None
    ) -> Response:
        tenant_id = principal.tenant_id

        async def device_and_profile() -> tuple[registry_pb2.Device, registry_pb2.DeviceProfile]:
            device = await ask(
                backends.registry.GetDevice,
                registry_pb2.GetDeviceRequest(tenant_id=tenant_id, device_id=device_id),
            )
            profile = await ask(
                backends.registry.GetProfile,
                registry_pb2.GetProfileRequest(
                    tenant_id=tenant_id, profile_id=device.profile_id, version=device.profile_version
                ),
            )
            return device, profile

        # All at once, each call naming the tenant; the device's own refusal (a 404 for
        # another tenant's) is the one the page answers with.
        answers = await asyncio.gather(
            device_and_profile(),
            _latest(backends, principal, device_id),
            _active_alarms(backends, principal, device_id),
            _credentials(backends, principal, device_id),
            return_exceptions=True,
        )
        for answer in answers:
            if isinstance(answer, BaseException):
                raise answer
        (device, profile), latest, alarms, credentials = answers
        return pages.render(
            request,
            "plant/device.html",
            principal=principal,
            device=device,
            state=state_name(device.state),
            connectivity=connectivity_name(device.connectivity),
            last_seen_at=moment_of(device.last_seen_at),
            attributes=sorted(MessageToDict(device.attributes).items()),
            profile=profile,
            latest=latest,
            alarms=alarms,
            credentials=credentials,
            issued_token=issued,
            csrf_field=CSRF_FIELD,
        )

    return [
        Route("/devices", device_list, name="devices"),
        Route("/devices/{device_id}", device_page, name="device"),
        Route("/devices/{device_id}/tokens", issue_token, methods=["POST"], name="issue_token"),
        Route(
            "/devices/{device_id}/tokens/{credential_id}/revoke",
            revoke_token,
            methods=["POST"],
            name="revoke_token",
        ),
    ]


def _listing_request(tenant_id: str, query: QueryParams) -> registry_pb2.ListDevicesRequest:
    """The registry's request for the filters of the page's query; a filter it cannot be
    is a 400."""
    backwards = BEFORE in query
    request = registry_pb2.ListDevicesRequest(
        tenant_id=tenant_id,
        page=common_pb2.PageRequest(
            page_size=PAGE_SIZE, cursor=query.get(BEFORE if backwards else AFTER, "")
        ),
        text=query.get("q", "").strip(),
        profile_id=query.get("profile", ""),
        order_by=f"-{ORDER}" if backwards else ORDER,
        include_total=True,
        total_limit=COUNTED,
    )
    state = query.get("state", "")
    if state:
        if state not in STATES:
            raise HTTPException(400, f"state must be one of {', '.join(STATES)}")
        request.state = registry_pb2.DeviceState.Value(f"DEVICE_STATE_{state.upper()}")
    label = query.get("label", "").strip()
    if label:
        key, equals, value = label.partition("=")
        if not equals or not key.strip():
            raise HTTPException(400, "a label filter is written key=value")
        request.labels[key.strip()] = value.strip()
    return request


def _page_url(query: QueryParams, way: str = "", cursor: str = "") -> str:
    """The list's URL with the same filters, at `cursor` going `way` (AFTER or BEFORE), or
    at the first page."""
    kept = [(name, query[name]) for name in FILTERS if query.get(name)]
    if cursor:
        kept.append((way, cursor))
    return "/devices" + (f"?{urlencode(kept)}" if kept else "")


async def _profile_names(backends: Backends, tenant_id: str) -> dict[str, str]:
    found = await ask(
        backends.registry.ListProfiles,
        registry_pb2.ListProfilesRequest(
            tenant_id=tenant_id, page=common_pb2.PageRequest(page_size=PROFILES_LISTED)
        ),
    )
    return {profile.id: profile.name for profile in found.profiles}


async def _latest(
    backends: Backends, principal: Principal, device_id: str
) -> dict[str, dict[str, Any]] | None:
    if not principal.allows("telemetry:read"):
        return None
    found = await ask(
        backends.telemetry.GetLatest,
        telemetry_pb2.GetLatestRequest(tenant_id=principal.tenant_id, device_id=device_id),
    )
    return {reading.channel: reading_view(reading) for reading in found.values}


async def _active_alarms(backends: Backends, principal: Principal, device_id: str) -> list[dict] | None:
    if not principal.allows("analytics:read"):
        return None
    found = await ask(
        backends.analytics.ListAlarms,
        analytics_pb2.ListAlarmsRequest(
            tenant_id=principal.tenant_id,
            device_id=device_id,
            statuses=ACTIVE_STATUSES,
            page=common_pb2.PageRequest(page_size=PAGE_SIZE),
        ),
    )
    return [alarm_view(alarm) for alarm in found.alarms]


async def _credentials(
    backends: Backends, principal: Principal, device_id: str
) -> list[registry_pb2.DeviceCredential] | None:
    if not principal.allows("devices:write"):
        return None
    found = await ask(
        backends.registry.ListDeviceCredentials,
        registry_pb2.ListDeviceCredentialsRequest(tenant_id=principal.tenant_id, device_id=device_id),
    )
    return list(found.credentials)
