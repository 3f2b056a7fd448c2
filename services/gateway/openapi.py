"""The OpenAPI 3.1 document, generated from the same endpoints and schemas that serve requests."""

from __future__ import annotations

from typing import Any

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from marshmallow import fields
from marshmallow.validate import Range

from services.gateway.endpoints import JSON, Endpoint
from services.gateway.problems import PROBLEM_JSON, TITLES
from services.gateway.schemas.common import ProblemDetail

OPENAPI_PATH = "/v1/openapi.json"

DESCRIPTION = """Gantry's HTTP/JSON API for partner companies.

Authenticate with `Authorization: Bearer <API key>`. Errors are RFC 9457
`application/problem+json` documents with a stable `type`. Timestamps are RFC 3339 in UTC.
"""


_UUID = {"type": "string", "format": "uuid"}
_PATH_SCHEMAS = {
    "device_token": {"type": "string", "maxLength": 512},
    # As devices name it, URL-encoded; a site holding "/" is out of reach of the path.
    "site": {"type": "string", "maxLength": 200},
}


def _content(endpoint: Endpoint) -> dict[str, Any]:
    if endpoint.media_type != JSON:
        return {endpoint.media_type: {"schema": {"type": "string"}}}
    return {JSON: {"schema": endpoint.response}} if endpoint.response else {}


def _path_parameters(endpoint: Endpoint) -> dict[str, dict[str, Any]]:
    """The schema of each parameter in the endpoint's path, by name."""
    names = [segment[1:-1] for segment in endpoint.path.split("/") if segment.startswith("{")]
    return {name: _PATH_SCHEMAS.get(name, _UUID) for name in names}


def _errors(endpoint: Endpoint) -> list[int]:
    """The endpoint's own errors, and those every route with a body, a rate limit, an
    Idempotency-Key or an id in its path can answer."""
    errors = set(endpoint.errors)
    if _UUID in _path_parameters(endpoint).values():
        # The backend refuses an id that is no UUID as an invalid argument.
        errors.add(422)
    if endpoint.scope is not None or endpoint.device_token or endpoint.limit_by_address:
        errors.add(429)
    if endpoint.body is not None:
        errors |= {400, 413, 415}
    if endpoint.creates:
        errors |= {400, 409, 422, 503}
    if endpoint.keyed:
        errors |= {400, 422}
    return sorted(errors)


def _operation(endpoint: Endpoint) -> dict[str, Any]:
    responses: dict[str, Any] = {
        str(endpoint.status): {
            "description": "Success",
            "content": _content(endpoint),
        }
    }
    if endpoint.upsert:
        responses["201"] = {"description": "Created", "content": _content(endpoint)}
    for status in _errors(endpoint):
        responses[str(status)] = {"$ref": f"#/components/responses/{status}"}
    operation: dict[str, Any] = {
        "operationId": endpoint.handler.__name__,
        "summary": endpoint.summary,
        "tags": [endpoint.tag],
        "responses": responses,
        "security": [{"bearer": []}] if endpoint.scope else [],
    }
    if endpoint.scope:
        operation["x-required-scope"] = endpoint.scope
    if endpoint.device_token:
        operation["x-required-scope"] = "device"
        operation["description"] = "Authenticated by the device's access token in the path."
    elif not endpoint.scope:
        # A device provisioning itself has no credential yet: its request carries its proof.
        operation["x-required-scope"] = "none"
    if endpoint.body is not None:
        shapes = [endpoint.body, *endpoint.other_bodies]
        body = {"anyOf": shapes} if endpoint.other_bodies else endpoint.body
        operation["requestBody"] = {"required": True, "content": {JSON: {"schema": body}}}
    parameters: list[dict[str, Any]] = [
        {"name": name, "in": "path", "required": True, "schema": schema}
        for name, schema in _path_parameters(endpoint).items()
    ]
    if endpoint.query is not None:
        parameters.append({"in": "query", "schema": endpoint.query})
    if endpoint.creates:
        parameters.append(
            {
                "name": "Idempotency-Key",
                "in": "header",
                "required": False,
                "schema": {"type": "string", "minLength": 1, "maxLength": 255},
                "description": "Sent again with the same request, answers the first response again "
                "(24 h); with another request, 422; while the first still runs, 409",
            }
        )
    if endpoint.keyed:
        parameters.append(
            {
                "name": "Idempotency-Key",
                "in": "header",
                "required": True,
                "schema": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[!-~]+$"},
                "description": "Required: sent again with the same request, answers the first result "
                "again without moving money twice (48 h); with another request, 422",
            }
        )
    if endpoint.precondition:
        parameters.append(
            {
                "name": "If-Match",
                "in": "header",
                "required": True,
                "schema": {"type": "string"},
                "description": "The ETag of the version being changed, or * for whichever is current",
            }
        )
    if endpoint.upsert:
        parameters += _UPSERT_HEADERS
    if parameters:
        operation["parameters"] = parameters
    return operation


# One of them is required: 428 without either.
_UPSERT_HEADERS = [
    {
        "name": "If-None-Match",
        "in": "header",
        "required": False,
        "schema": {"type": "string", "enum": ["*"]},
        "description": "* to create it: 412 when it exists",
    },
    {
        "name": "If-Match",
        "in": "header",
        "required": False,
        "schema": {"type": "string"},
        "description": "To replace it: the ETag of the version being replaced, or * for whichever is current",
    },
]


def _int64(_converter: Any, field: fields.Field, **_: Any) -> dict[str, Any]:
    """`format: int64` on integers beyond 2^53: readers that hold JSON numbers as doubles
    (JavaScript, jq) would round their exact bounds, 2^63 - 1 to 2^63, and so admit values
    the server refuses; the format tells them to read 64-bit integers."""
    if not isinstance(field, fields.Integer):
        return {}
    bounds = [bound for v in field.validators if isinstance(v, Range) for bound in (v.min, v.max)]
    return {"format": "int64"} if any(b is not None and abs(b) > 2**53 for b in bounds) else {}


def _object_size(_converter: Any, field: fields.Field, ret: dict[str, Any], **_: Any) -> dict[str, Any]:
    """A Dict's Length bounds its entries, which JSON Schema calls properties: apispec
    writes it as a string's length, which says nothing of an object."""
    if not isinstance(field, fields.Dict):
        return {}
    bounds = {"minLength": "minProperties", "maxLength": "maxProperties"}
    return {bounds[key]: ret.pop(key) for key in list(ret) if key in bounds}


def build(endpoints: list[Endpoint]) -> dict[str, Any]:
    plugin = MarshmallowPlugin()
    spec = APISpec(
        title="Gantry partner API",
        version="1.0.0",
        openapi_version="3.1.0",
        plugins=[plugin],
        info={"description": DESCRIPTION},
    )
    plugin.converter.add_attribute_function(_int64)
    plugin.converter.add_attribute_function(_object_size)
    spec.components.security_scheme("bearer", {"type": "http", "scheme": "bearer"})
    spec.components.schema("Problem", schema=ProblemDetail)
    for status, title in TITLES.items():
        spec.components.response(
            str(status), {"description": title, "content": {PROBLEM_JSON: {"schema": "Problem"}}}
        )
    operations: dict[str, dict[str, Any]] = {}
    for endpoint in endpoints:
        operations.setdefault(endpoint.path, {})[endpoint.method.lower()] = _operation(endpoint)
    for path, path_operations in operations.items():
        spec.path(path=path, operations=path_operations)
    return spec.to_dict()
