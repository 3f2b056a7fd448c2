"""The OpenAPI document is the contract: every route is in it and it is valid OpenAPI 3.1."""

from __future__ import annotations

from openapi_spec_validator import validate
from starlette.routing import Route

from services.gateway import openapi
from services.gateway.app import ENDPOINTS, create_app
from services.kit.settings import GatewaySettings

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
            assert "401" in operation["responses"], f"{method} {path}"
