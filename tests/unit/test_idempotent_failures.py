"""Which failures a creating POST with an Idempotency-Key keeps: any answer of a request
that began executing, a defect's 500 included; none of a request that changed nothing."""

from __future__ import annotations

import asyncio

from starlette.requests import Request
from starlette.responses import Response

from services.gateway.endpoints import Call, Endpoint, Guards, starlette_handler
from services.gateway.idempotency import Idempotency, LocalRecords
from services.gateway.problems import Problem


def request_with(key: str) -> Request:
    headers = [(b"idempotency-key", key.encode()), (b"authorization", b"Bearer gnt_owner")]
    return Request({"type": "http", "method": "POST", "path": "/v1/things", "headers": headers})


def answers(failure: Exception, times: int = 2) -> tuple[list[Response], int]:
    """What a creating route whose handler raises `failure` answers `times` requests with one
    key, and how often the handler ran."""
    runs = 0

    async def create_thing(call: Call) -> Response:
        nonlocal runs
        runs += 1
        raise failure

    endpoint = Endpoint("POST", "/v1/things", create_thing, "Create", "Things", None, None, 201)
    handle = starlette_handler(endpoint, None, Guards(None, None, Idempotency(LocalRecords(), "t")))  # type: ignore[arg-type]

    async def send() -> list[Response]:
        return [await handle(request_with("k-1")) for _ in range(times)]

    return asyncio.run(send()), runs


def test_a_defect_after_the_handler_began_is_a_500_kept_for_the_retry() -> None:
    (first, again), runs = answers(RuntimeError("failed after the backend created it"))
    assert (first.status_code, again.status_code) == (500, 500) and runs == 1
    assert again.headers["Idempotent-Replayed"] == "true" and again.body == first.body
    assert b"failed after the backend" not in first.body


def test_a_refusal_that_changed_nothing_frees_the_key() -> None:
    refused = Problem(503, "backend-unavailable", "not sent", no_effect=True)
    (first, again), runs = answers(refused)
    assert (first.status_code, again.status_code) == (503, 503) and runs == 2
    assert "idempotent-replayed" not in again.headers and first.headers["Retry-After"].isdigit()
