"""The gateway's access log: one JSON line per request, by route template, with no
credential in it; and a quiet log for calls that succeed."""

from __future__ import annotations

import contextlib
import io
import logging
from collections.abc import Iterator
from types import SimpleNamespace

import grpc
import orjson
import pytest

from services.kit import grpc_calls, logs
from tests.support.gateway import OPERATOR_TOKEN, gateway

SECRETS = ("Bearer", "gnt_", "gdt_", OPERATOR_TOKEN)


@pytest.fixture
def log_output(monkeypatch: pytest.MonkeyPatch) -> Iterator[io.StringIO]:
    """What the process's JSON logging writes at the default level, while the test runs."""
    monkeypatch.setenv("GANTRY_LOG_LEVEL", "INFO")
    root = logging.getLogger()
    kept = root.handlers[:], root.level
    output = io.StringIO()
    with contextlib.redirect_stderr(output):
        logs.configure("gateway")
    try:
        yield output
    finally:
        root.handlers[:], level = kept
        root.setLevel(level)


def gateway_lines(output: io.StringIO) -> list[dict]:
    """The lines of the gateway, not of the test's own HTTP client, which names the URLs."""
    lines = [orjson.loads(line) for line in output.getvalue().splitlines()]
    return [line for line in lines if line["logger"] != "httpx"]


def test_every_request_is_one_line_without_credentials(log_output: io.StringIO) -> None:
    with gateway() as http:
        too_large = http.post(
            "/v1/tenants",
            content=b'{"name": "' + b"x" * (2 * 1024 * 1024) + b'"}',
            headers={"Content-Type": "application/json", "X-Request-Id": "access-log-413"},
        )
        device = http.post(
            "/api/v1/gdt_0123_devicesecret/telemetry",
            json={"t": 1},
            headers={"Authorization": "", "X-Request-Id": "access-log-device"},
        )
        tenant = http.get(
            "/v1/devices",
            headers={"Authorization": "Bearer gnt_0123_keysecret", "X-Request-Id": "access-log-key"},
        )
    assert too_large.status_code == 413
    written = gateway_lines(log_output)
    by_id = {line["request_id"]: line for line in written if line["message"] == "http request"}
    refused = by_id["access-log-413"]
    assert (refused["method"], refused["route"], refused["status"]) == ("POST", "/v1/tenants", 413)
    assert type(refused["ms"]) is float
    assert by_id["access-log-device"]["route"] == "/api/v1/{device_token}/telemetry"
    assert by_id["access-log-device"]["status"] == device.status_code
    assert by_id["access-log-key"]["status"] == tenant.status_code
    assert not [secret for secret in SECRETS if secret in orjson.dumps(written).decode()]


def test_calls_that_succeed_log_at_debug_and_failures_at_info(caplog: pytest.LogCaptureFixture) -> None:
    method = grpc_calls._Method("/gantry.v1.Test/Succeed")
    context = SimpleNamespace(invocation_metadata=lambda: ())
    with caplog.at_level(logging.DEBUG, logger=grpc_calls.log.name):
        for code in (grpc.StatusCode.OK, grpc.StatusCode.NOT_FOUND):
            call = grpc_calls._Call(method, context)
            call.code = code
            call.end()
    levels = {record.code: record.levelno for record in caplog.records if record.message == "grpc call"}
    assert levels == {"OK": logging.DEBUG, "NOT_FOUND": logging.INFO}
