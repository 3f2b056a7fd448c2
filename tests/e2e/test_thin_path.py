"""One path through the whole platform: HTTP -> gateway -> registry (gRPC) -> event on
RabbitMQ -> telemetry worker -> visible through telemetry's API."""

from __future__ import annotations

import signal

import httpx

from tests.support.client import PartnerClient
from tests.support.platform import OPERATOR_TOKEN, Platform
from tests.support.waiting import eventually


def latest_status(client: PartnerClient, device_id: str) -> int:
    return client.http.get(f"/v1/devices/{device_id}/telemetry/latest").status_code


def test_registered_device_reaches_telemetry(platform: Platform) -> None:
    operator = PartnerClient(platform.gateway_url, OPERATOR_TOKEN)
    tenant = operator.create_tenant()
    client = operator.as_tenant(tenant["api_key"])

    device = client.register_device("CNC-0001")

    token = device.pop("access_token")
    assert token.startswith("gdt_") and device["state"] == "provisioned"
    assert client.http.get(f"/v1/devices/{device['id']}").json() == device
    eventually(lambda: latest_status(client, device["id"]) == 200, what="telemetry to learn the device")
    latest = client.http.get(f"/v1/devices/{device['id']}/telemetry/latest").json()
    assert latest == {"device_id": device["id"], "values": []}


def test_another_tenant_sees_nothing(platform: Platform) -> None:
    operator = PartnerClient(platform.gateway_url, OPERATOR_TOKEN)
    owner = operator.as_tenant(operator.create_tenant("Owner")["api_key"])
    stranger = operator.as_tenant(operator.create_tenant("Stranger")["api_key"])
    device = owner.register_device()
    eventually(lambda: latest_status(owner, device["id"]) == 200, what="telemetry to learn the device")

    assert stranger.http.get(f"/v1/devices/{device['id']}").status_code == 404
    assert latest_status(stranger, device["id"]) == 404
    assert stranger.http.get(f"/v1/tenants/{device['tenant_id']}").status_code == 404


def test_request_id_follows_the_event_across_processes(platform: Platform) -> None:
    operator = PartnerClient(platform.gateway_url, OPERATOR_TOKEN)
    client = operator.as_tenant(operator.create_tenant()["api_key"])
    device = client.register_device(**{"X-Request-Id": "trace-e2e-0001"})

    eventually(lambda: latest_status(client, device["id"]) == 200, what="telemetry to learn the device")
    assert platform.logged_request("registry-api", "trace-e2e-0001")
    eventually(
        lambda: platform.logged_request("telemetry-worker", "trace-e2e-0001"),
        what="the worker to log with the request id",
    )


def test_events_wait_in_the_durable_queue_while_the_worker_is_down(platform: Platform) -> None:
    operator = PartnerClient(platform.gateway_url, OPERATOR_TOKEN)
    client = operator.as_tenant(operator.create_tenant()["api_key"])

    assert platform.stop("telemetry-worker") == 0
    device = client.register_device()
    assert latest_status(client, device["id"]) == 404

    platform.start("telemetry-worker")
    platform.wait_ready(["telemetry-worker"])
    eventually(lambda: latest_status(client, device["id"]) == 200, what="the restarted worker to catch up")


def test_gateway_health_and_readiness(platform: Platform) -> None:
    assert httpx.get(f"{platform.gateway_url}/healthz").json() == {"status": "ok"}
    ready = httpx.get(f"{platform.gateway_url}/readyz")
    assert ready.status_code == 200
    assert set(ready.json()["checks"].items()) == {
        (backend, "SERVING") for backend in ("registry", "telemetry", "marketplace", "analytics")
    }


def test_every_process_serves_prometheus_metrics(platform: Platform) -> None:
    httpx.get(f"{platform.gateway_url}/healthz")
    for name, port in platform.metrics_ports.items():
        body = httpx.get(f"http://127.0.0.1:{port}/metrics").text
        assert "python_info" in body, name
    gateway = httpx.get(f"http://127.0.0.1:{platform.metrics_ports['gateway']}/metrics").text
    assert 'gantry_http_requests_total{route="healthz",status="200"}' in gateway
    assert httpx.get(f"{platform.gateway_url}/metrics").status_code == 404
    assert (
        "gantry_grpc_server_handled_total"
        in httpx.get(f"http://127.0.0.1:{platform.metrics_ports['registry-api']}/metrics").text
    )


def test_api_process_stops_gracefully_and_comes_back(platform: Platform) -> None:
    assert platform.stop("registry-api", signal.SIGTERM) == 0
    platform.start("registry-api")
    platform.wait_ready(["registry-api"])
    operator = PartnerClient(platform.gateway_url, OPERATOR_TOKEN)
    assert operator.create_tenant()["status"] == "active"
