"""The gateway refuses bad requests with precise problem+json answers, never a 5xx."""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest

from tests.support.client import PartnerClient
from tests.support.platform import OPERATOR_TOKEN, Platform

PROBLEM = "application/problem+json"


@pytest.fixture(scope="module")
def tenant_key(platform: Platform) -> str:
    return PartnerClient(platform.gateway_url, OPERATOR_TOKEN).create_tenant()["api_key"]


@pytest.fixture
def http(platform: Platform) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=platform.gateway_url, timeout=10) as client:
        yield client


def problem(response: httpx.Response, status: int, slug: str) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    body = response.json()
    assert body["type"] == f"urn:gantry:problem:{slug}" and body["status"] == status
    assert body["request_id"] == response.headers["x-request-id"]
    return body


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Basic Zm9vOmJhcg=="},
        {"Authorization": "Bearer"},
        {"Authorization": "Bearer " + "k" * 5000},
    ],
)
def test_missing_or_malformed_credentials_are_401(http: httpx.Client, headers: dict) -> None:
    response = http.get("/v1/devices/00000000-0000-0000-0000-000000000000", headers=headers)
    problem(response, 401, "unauthenticated")
    assert response.headers["www-authenticate"].startswith("Bearer")


def test_unknown_keys_are_401_and_tenant_keys_cannot_create_tenants(
    http: httpx.Client, tenant_key: str
) -> None:
    problem(
        http.get(
            "/v1/devices/00000000-0000-0000-0000-000000000000", headers=bearer("gnt_" + "a" * 32 + "_nope")
        ),
        401,
        "unauthenticated",
    )
    body = {"name": "Evil", "country": "CN", "size_class": "small"}
    problem(http.post("/v1/tenants", json=body, headers=bearer(tenant_key)), 403, "insufficient-scope")


def test_the_operator_has_no_tenant_to_register_devices_in(http: httpx.Client) -> None:
    response = http.post(
        "/v1/devices", json={"serial_number": "S-1", "display_name": "x"}, headers=bearer(OPERATOR_TOKEN)
    )
    problem(response, 403, "forbidden")


@pytest.mark.parametrize(
    "content, content_type, status, slug",
    [
        (b"{not json", "application/json", 400, "malformed-json"),
        (b"[1, 2]", "application/json", 400, "malformed-json"),
        (b'{"serial_number": "S-1"}', "text/plain", 415, "unsupported-media-type"),
        (
            b'{"serial_number": "S-1", "display_name": "x", "extra": 1}',
            "application/json",
            422,
            "validation-error",
        ),
        (
            b'{"serial_number": "S 1", "display_name": "x\\u0000"}',
            "application/json",
            422,
            "validation-error",
        ),
        (b'{"serial_number": 12, "display_name": null}', "application/json", 422, "validation-error"),
        (b'{"a": "' + b"x" * (2 * 1024 * 1024) + b'"}', "application/json", 413, "body-too-large"),
    ],
)
def test_bad_bodies_get_precise_problems(
    http: httpx.Client, tenant_key: str, content: bytes, content_type: str, status: int, slug: str
) -> None:
    response = http.post(
        "/v1/devices", content=content, headers={**bearer(tenant_key), "Content-Type": content_type}
    )
    body = problem(response, status, slug)
    if status == 422:
        assert body["errors"] and all(error["field"] for error in body["errors"])


def test_duplicate_serial_is_409(platform: Platform, http: httpx.Client, tenant_key: str) -> None:
    body = PartnerClient(platform.gateway_url, tenant_key).device_body("DUP-GW-1")
    assert http.post("/v1/devices", json=body, headers=bearer(tenant_key)).status_code == 201
    problem(http.post("/v1/devices", json=body, headers=bearer(tenant_key)), 409, "already-exists")


def test_unknown_routes_and_methods_are_problems(http: httpx.Client, tenant_key: str) -> None:
    problem(http.get("/v1/nothing-here", headers=bearer(tenant_key)), 404, "not-found")
    problem(http.delete("/v1/tenants", headers=bearer(tenant_key)), 405, "method-not-allowed")


def test_request_ids_are_echoed_only_when_safe(http: httpx.Client) -> None:
    assert http.get("/healthz", headers={"X-Request-Id": "abc-123"}).headers["x-request-id"] == "abc-123"
    injected = http.get("/healthz", headers={"X-Request-Id": "abc\tSet-Cookie: x=1"}).headers["x-request-id"]
    assert injected != "abc\tSet-Cookie: x=1" and len(injected) == 32


def test_openapi_document_and_docs_page_are_served(http: httpx.Client) -> None:
    document = http.get("/v1/openapi.json").json()
    assert document["openapi"] == "3.1.0" and "/v1/devices" in document["paths"]
    assert "/v1/openapi.json" in http.get("/docs").text


def test_registry_rules_come_back_as_fields_of_the_body(
    platform: Platform, http: httpx.Client, tenant_key: str
) -> None:
    body = {**PartnerClient(platform.gateway_url, tenant_key).device_body(), "serial_number": "has space"}
    errors = problem(
        http.post("/v1/devices", json=body, headers=bearer(tenant_key)), 422, "validation-error"
    )["errors"]
    assert [error["field"] for error in errors] == ["serial_number"]


def test_malformed_json_is_one_problem_on_every_route(
    platform: Platform, http: httpx.Client, tenant_key: str
) -> None:
    token = PartnerClient(platform.gateway_url, tenant_key).register_device()["access_token"]
    routes = [
        ("/v1/device-profiles", bearer(tenant_key)),
        ("/v1/telemetry", bearer(tenant_key)),
        (f"/api/v1/{token}/telemetry", {}),
        (f"/api/v1/{token}/attributes", {}),
    ]
    for path, headers in routes:
        for content in (b"{not json", b'"just a string"'):
            response = http.post(
                path, content=content, headers={**headers, "Content-Type": "application/json"}
            )
            problem(response, 400, "malformed-json")


def test_every_path_parameter_failure_is_documented(http: httpx.Client, tenant_key: str) -> None:
    """Each route with a path parameter, called with one that names nothing, answers a
    status its operation documents."""
    document = http.get("/v1/openapi.json").json()
    for path, operations in document["paths"].items():
        if "{" not in path:
            continue
        concrete = re.sub(r"\{[^}]+\}", "not-a-uuid", path)
        for method, operation in operations.items():
            for key in (tenant_key, OPERATOR_TOKEN):
                response = http.request(method, concrete, json={}, headers=bearer(key))
                assert str(response.status_code) in operation["responses"], (method, path, response.text)
