"""The OpenAPI document is the contract: every route is in it and it is valid OpenAPI 3.1."""

from __future__ import annotations

from collections.abc import Iterator

import orjson
from openapi_spec_validator import validate
from starlette.routing import Route

from services.gateway import openapi
from services.gateway.app import ENDPOINTS, create_app
from services.gateway.endpoints import json_response
from services.gateway.settings import GatewaySettings

INFRASTRUCTURE = {"/healthz", "/readyz", "/docs", openapi.OPENAPI_PATH}


def test_document_is_valid_openapi_3_1() -> None:
    document = openapi.build(ENDPOINTS)
    assert document["openapi"] == "3.1.0"
    validate(document)


def test_every_served_route_is_documented() -> None:
    app = create_app(GatewaySettings("127.0.0.1", 0, "token", 5))
    document = openapi.build(ENDPOINTS)
    served = {
        (route.path, method.lower())
        for route in app.routes
        if isinstance(route, Route) and route.path not in INFRASTRUCTURE
        for method in route.methods or ()
        if method != "HEAD"
    }
    documented = {(path, method) for path, operations in document["paths"].items() for method in operations}
    assert served == documented


def test_every_operation_declares_its_scope_and_errors() -> None:
    for path, operations in openapi.build(ENDPOINTS)["paths"].items():
        for method, operation in operations.items():
            assert operation.get("x-required-scope"), f"{method} {path}"
            if operation["x-required-scope"] != "none":
                assert "401" in operation["responses"], f"{method} {path}"


def _bounds(node: object, where: str = "") -> Iterator[tuple[str, object]]:
    """Every numeric bound in the document, with where it is."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
                yield f"{where}.{key}", value
            yield from _bounds(value, f"{where}.{key}")
    elif isinstance(node, list):
        for index, item in enumerate(node):
            yield from _bounds(item, f"{where}[{index}]")


def test_integer_bounds_are_exact() -> None:
    document = openapi.build(ENDPOINTS)
    # As the gateway serves it (`json_response`): orjson writes integers exactly.
    served = orjson.loads(json_response(document).body)
    for built in (document, served):
        amount = built["components"]["schemas"]["DepositCreate"]["properties"]["amount"]
        assert amount["maximum"] == 2**63 - 1 and type(amount["maximum"]) is int
        # Readers that hold numbers as doubles round it to 2^63; the format says not to.
        assert amount["format"] == "int64"
        inexact = [
            (where, value) for where, value in _bounds(built) if type(value) is float and value.is_integer()
        ]
        assert not inexact


def test_every_uuid_path_parameter_documents_its_refusal() -> None:
    for path, operations in openapi.build(ENDPOINTS)["paths"].items():
        for method, operation in operations.items():
            uuids = [
                p for p in operation.get("parameters", []) if p.get("schema", {}).get("format") == "uuid"
            ]
            if uuids:
                assert "422" in operation["responses"], f"{method} {path}"


def test_a_condition_refers_to_itself_for_its_groups() -> None:
    schemas = openapi.build(ENDPOINTS)["components"]["schemas"]
    groups = schemas["Condition"]["properties"]["groups"]
    assert groups["items"] == {"$ref": "#/components/schemas/Condition"}
    assert schemas["AlarmRule"]["properties"]["labels"]["maxProperties"] == 16


def test_a_put_that_creates_or_replaces_documents_both_preconditions() -> None:
    paths = openapi.build(ENDPOINTS)["paths"]
    for path in ("/v1/machine-models/{profile_id}", "/v1/site-calendars/{site}"):
        put = paths[path]["put"]
        headers = {p["name"]: p for p in put["parameters"] if p["in"] == "header"}
        assert set(headers) == {"If-None-Match", "If-Match"} and not any(
            h["required"] for h in headers.values()
        )
        assert {"200", "201", "412", "428"} <= set(put["responses"])
    site = paths["/v1/sites/{site}/performance"]["get"]["parameters"][0]
    assert (site["name"], site["schema"]) == ("site", {"type": "string", "maxLength": 200})


def test_performance_answers_are_documented_field_by_field() -> None:
    schemas = openapi.build(ENDPOINTS)["components"]["schemas"]
    inputs = schemas["PerformanceInputs"]["properties"]
    assert {"pbt", "apt", "gq", "aubt", "restoration"} <= set(inputs) and inputs["failures"][
        "type"
    ] == "integer"
    assert schemas["PerformanceFigures"]["properties"]["oee"]["type"] == ["number", "null"]
    assert schemas["MachineStates"]["properties"]["values"]["items"] == {
        "$ref": "#/components/schemas/StateValue"
    }
