"""Machine performance: machine models per profile, shift calendars per site, and the
ISO 22400-2 figures of a device, a site or the fleet."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from gantry.v1 import analytics_pb2 as pb
from google.protobuf.message import Message
from marshmallow import Schema
from starlette.responses import Response

from services.gateway.clients import call
from services.gateway.endpoints import Call, Endpoint, Handler, Version, etag, json_response
from services.gateway.protojson import to_json, to_message
from services.gateway.routes.analytics import CHANGE_ERRORS, LIST_ERRORS, READ, READ_ERRORS, WRITE
from services.gateway.schemas import performance as schemas

DELETE_ERRORS = (401, 403, 404, 412, 422, 428)
TAG = "machine performance"


@dataclass(frozen=True)
class Setting:
    """A versioned setting of analytics, one per key, and how its calls are named:
    `Get<kind>`, `List<kind>s`, `Put<kind>`, `Delete<kind>`, each with its `<call>Request`."""

    kind: str
    # The path parameter and request field holding the key.
    key: str
    # The put request's field holding the setting; analytics names its fields under it,
    # the body holds them at its top.
    field: str
    message: type[Message]

    def method(self, c: Call, verb: str) -> Any:
        return getattr(c.backends.analytics, self._call(verb))

    def request(self, verb: str, **fields: Any) -> Any:
        return getattr(pb, f"{self._call(verb)}Request")(**fields)

    def _call(self, verb: str) -> str:
        return f"{verb}{self.kind}s" if verb == "List" else verb + self.kind


MODEL = Setting("MachineModel", "profile_id", "model", pb.MachineModel)
CALENDAR = Setting("SiteCalendar", "site", "calendar", pb.SiteCalendar)


async def _current(c: Call, setting: Setting) -> Any:
    request = setting.request("Get", tenant_id=c.tenant_id, **{setting.key: c.path(setting.key)})
    return await call(setting.method(c, "Get"), request)


def _version_of(setting: Setting) -> Version:
    async def version(c: Call) -> int:
        return (await _current(c, setting)).version

    return version


async def _list(c: Call, setting: Setting) -> Response:
    found = await call(setting.method(c, "List"), setting.request("List", tenant_id=c.tenant_id))
    # The answer's one field, `models` or `calendars`: a list of every one, never paged.
    (listed,) = (getattr(found, field.name) for field in found.DESCRIPTOR.fields)
    return json_response({"items": [to_json(item) for item in listed]})


async def _get(c: Call, setting: Setting) -> Response:
    current = await _current(c, setting)
    return json_response(to_json(current), headers=etag(current.version))


async def _put(c: Call, setting: Setting) -> Response:
    key = {setting.key: c.path(setting.key)}
    request = setting.request(
        "Put",
        tenant_id=c.tenant_id,
        expected_version=await c.put_version(_version_of(setting)),
        **{setting.field: to_message(setting.message, c.body, **key)},
    )
    put = await call(setting.method(c, "Put"), request, field_prefix=f"{setting.field}.")
    created = request.expected_version == 0
    headers = etag(put.version) | ({"Location": c.request.url.path} if created else {})
    return json_response(to_json(put), 201 if created else 200, headers)


async def _delete(c: Call, setting: Setting) -> Response:
    request = setting.request(
        "Delete",
        tenant_id=c.tenant_id,
        expected_version=await c.expected_version(_version_of(setting)),
        **{setting.key: c.path(setting.key)},
    )
    # The answer is the setting as deleted, its version one past the one If-Match named.
    return json_response(to_json(await call(setting.method(c, "Delete"), request)))


# One handler per route, for its own operationId in the OpenAPI document.
async def list_machine_models(c: Call) -> Response:
    return await _list(c, MODEL)


async def get_machine_model(c: Call) -> Response:
    return await _get(c, MODEL)


async def put_machine_model(c: Call) -> Response:
    return await _put(c, MODEL)


async def delete_machine_model(c: Call) -> Response:
    return await _delete(c, MODEL)


async def list_site_calendars(c: Call) -> Response:
    return await _list(c, CALENDAR)


async def get_site_calendar(c: Call) -> Response:
    return await _get(c, CALENDAR)


async def put_site_calendar(c: Call) -> Response:
    return await _put(c, CALENDAR)


async def delete_site_calendar(c: Call) -> Response:
    return await _delete(c, CALENDAR)


async def _report(c: Call, **scope: str | bool) -> Response:
    request: Message = to_message(pb.GetPerformanceRequest, c.query, tenant_id=c.tenant_id, **scope)
    return json_response(to_json(await call(c.backends.analytics.GetPerformance, request)))


async def device_performance(c: Call) -> Response:
    return await _report(c, device_id=c.path("device_id"))


async def site_performance(c: Call) -> Response:
    return await _report(c, site=c.path("site"))


async def fleet_performance(c: Call) -> Response:
    return await _report(c, fleet=True)


async def measured_capacity(c: Call) -> Response:
    request = pb.GetMeasuredCapacityRequest(tenant_id=c.tenant_id, device_id=c.path("device_id"))
    return json_response(to_json(await call(c.backends.analytics.GetMeasuredCapacity, request)))


# A setting's handlers (list, get, put, delete) and schemas (definition, answer, list).
SettingHandlers = tuple[Handler, Handler, Handler, Handler]
SettingSchemas = tuple[type[Schema], type[Schema], type[Schema]]


def _setting_endpoints(
    path: str, key: str, name: str, handlers: SettingHandlers, shapes: SettingSchemas, put_effect: str
) -> list[Endpoint]:
    """The routes of a versioned setting, one per `key`: list, get, put and delete."""
    list_all, get, put, delete = handlers
    definition, answer, listed = shapes
    one = f"{path}/{{{key}}}"
    return [
        Endpoint(
            "GET",
            path,
            list_all,
            f"List the caller's {name}s",
            TAG,
            scope=READ,
            response=listed,
            errors=LIST_ERRORS,
        ),
        Endpoint(
            "GET",
            one,
            get,
            f"Get a {name}; its ETag is its version",
            TAG,
            scope=READ,
            response=answer,
            errors=READ_ERRORS,
        ),
        Endpoint(
            "PUT",
            one,
            put,
            f"Create a {name} (If-None-Match: *, 201) or replace it (If-Match); {put_effect}",
            TAG,
            scope=WRITE,
            body=definition,
            response=answer,
            upsert=True,
            errors=CHANGE_ERRORS,
        ),
        Endpoint(
            "DELETE",
            one,
            delete,
            f"Delete a {name}",
            TAG,
            scope=WRITE,
            response=answer,
            precondition=True,
            errors=DELETE_ERRORS,
        ),
    ]


def _report_endpoint(path: str, handler: Handler, whose: str, query: type[Schema]) -> Endpoint:
    return Endpoint(
        "GET",
        path,
        handler,
        f"ISO 22400-2 figures with their inputs of {whose} per hour, shift, day or week in [start, end)",
        TAG,
        scope=READ,
        query=query,
        response=schemas.PerformanceReport,
        errors=READ_ERRORS,
    )


ENDPOINTS = [
    *_setting_endpoints(
        "/v1/machine-models",
        "profile_id",
        "machine model",
        (list_machine_models, get_machine_model, put_machine_model, delete_machine_model),
        (schemas.MachineModelDefinition, schemas.MachineModel, schemas.MachineModelList),
        "its channels are checked against the profile's, and the profile's machines start afresh",
    ),
    *_setting_endpoints(
        "/v1/site-calendars",
        "site",
        "site calendar",
        (list_site_calendars, get_site_calendar, put_site_calendar, delete_site_calendar),
        (schemas.SiteCalendarDefinition, schemas.SiteCalendar, schemas.SiteCalendarList),
        "figures are planned by the calendar as it is when they are asked for",
    ),
    _report_endpoint(
        "/v1/devices/{device_id}/performance", device_performance, "a device", schemas.PerformanceQuery
    ),
    _report_endpoint(
        "/v1/sites/{site}/performance",
        site_performance,
        "a site's machines, in its calendar's zone",
        schemas.PerformanceQuery,
    ),
    _report_endpoint("/v1/performance", fleet_performance, "the fleet", schemas.FleetPerformanceQuery),
    Endpoint(
        "GET",
        "/v1/devices/{device_id}/capacity",
        measured_capacity,
        "How the machine spent each hour of the week over the last four weeks, measured by the platform",
        TAG,
        scope=READ,
        response=schemas.MeasuredCapacity,
        errors=READ_ERRORS,
    ),
]
