"""When a backend cannot be reached, stops answering or fails, the gateway's answer says
what the caller can do, never where the backend runs or how its connection failed; and
an Idempotency-Key keeps every answer a backend may have acted on, but frees the key of a
request no backend acted on."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import grpc
import httpx
import pytest
from gantry.v1 import registry_pb2 as pb
from gantry.v1 import registry_pb2_grpc

from services.kit.errors import NotDone, Unavailable
from services.kit.grpc_server import build_server
from tests.support.gateway import closed_target, gateway
from tests.support.waiting import eventually

REGISTRY = "gantry.v1.RegistryService"
BUSY = "the registry's database is unavailable; retry shortly"
TENANT = {"name": "Acme Precision", "country": "CN", "size_class": "small"}
DEPOSIT = {
    "credit_tenant_id": "00000000-0000-0000-0000-000000000001",
    "currency": "CNY",
    "amount": 1,
    "reason": "x",
}
# grpc's words for transport failures, which belong in the gateway's log only.
TRANSPORT_WORDS = (
    "ipv4",
    "ipv6",
    "127.0.0.1",
    "failed to connect",
    "Connection refused",
    "Broken pipe",
    "sendmsg",
    "Socket closed",
    "Cancelling all calls",
)


def assert_unavailable(response: httpx.Response, target: str) -> str:
    """Checks a 503 that names no address, port or transport error; returns its detail."""
    assert response.status_code == 503, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["Retry-After"].isdigit()
    problem = response.json()
    assert problem["type"] == "urn:gantry:problem:backend-unavailable"
    # The request id is random hex, in which a port's digits could appear by chance.
    shown = str({key: value for key, value in problem.items() if key != "request_id"})
    for word in (*TRANSPORT_WORDS, target.rpartition(":")[2]):
        assert word not in shown, shown
    return problem["detail"]


@pytest.mark.parametrize(
    "method, path, body, service",
    [
        ("POST", "/v1/tenants", TENANT, "registry"),
        ("GET", "/v1/tenants", None, "registry"),
        ("POST", "/v1/accounts/deposits", DEPOSIT, "marketplace"),
    ],
)
def test_an_unreachable_backend_is_a_503_saying_what_to_do(
    method: str, path: str, body: dict | None, service: str
) -> None:
    target = closed_target()
    with gateway(**{service: target}) as http:
        response = http.request(method, path, json=body, headers={"Idempotency-Key": "k-1"})
    detail = assert_unavailable(response, target)
    assert f"the {service} service" in detail and "retry" in detail and "request id" in detail


class Registry(registry_pb2_grpc.RegistryServiceServicer):
    """A registry whose CreateTenant counts its calls and answers as `answer` says."""

    def __init__(self, answer: Callable[[Registry], pb.CreateTenantResponse]) -> None:
        self.answer = answer
        self.calls = 0
        self.server: grpc.Server | None = None
        self._lock = threading.Lock()

    def CreateTenant(
        self, request: pb.CreateTenantRequest, context: grpc.ServicerContext
    ) -> pb.CreateTenantResponse:
        with self._lock:
            self.calls += 1
        return self.answer(self)


@contextmanager
def serving(registry: Registry, port: int = 0) -> Iterator[str]:
    """`registry` on a threaded server of the platform's kind; yields its target."""
    server, _, bound = build_server(
        lambda s: registry_pb2_grpc.add_RegistryServiceServicer_to_server(registry, s), [REGISTRY], port
    )
    registry.server = server
    try:
        yield f"127.0.0.1:{bound}"
    finally:
        server.stop(None)


def created(_: Registry) -> pb.CreateTenantResponse:
    return pb.CreateTenantResponse(
        tenant=pb.Tenant(id="00000000-0000-0000-0000-0000000000aa"), api_key="gnt_x"
    )


def cut_off(registry: Registry) -> pb.CreateTenantResponse:
    """Stops the server while the call runs, as a crash or a lost connection would."""
    assert registry.server is not None
    registry.server.stop(None).wait()
    return created(registry)


def broken(_: Registry) -> pb.CreateTenantResponse:
    raise RuntimeError("the database went away after the commit")


def busy(_: Registry) -> pb.CreateTenantResponse:
    raise Unavailable(BUSY)


def not_done_once(registry: Registry) -> pb.CreateTenantResponse:
    """Refuses the first call having changed nothing (a rolled-back transaction); creates then."""
    if registry.calls == 1:
        raise NotDone(BUSY)
    return created(registry)


def post_tenant(http: httpx.Client, key: str) -> httpx.Response:
    return http.post("/v1/tenants", json=TENANT, headers={"Idempotency-Key": key})


def test_a_call_cut_off_in_its_backend_may_have_acted_and_its_answer_is_kept() -> None:
    registry = Registry(cut_off)
    with serving(registry) as target, gateway(registry=target) as http:
        first = post_tenant(http, "cut-1")
        detail = assert_unavailable(first, target)
        assert "may have taken effect" in detail and "with the same Idempotency-Key" not in detail
        again = post_tenant(http, "cut-1")
    assert again.headers["Idempotent-Replayed"] == "true"
    assert (again.status_code, again.json()) == (503, first.json())
    assert registry.calls == 1


def test_a_failure_after_the_backend_ran_is_replayed_not_run_again() -> None:
    registry = Registry(broken)
    with serving(registry) as target, gateway(registry=target) as http:
        answers = [post_tenant(http, "broken-1") for _ in range(2)]
    assert [a.status_code for a in answers] == [502, 502]
    assert answers[1].headers["Idempotent-Replayed"] == "true" and answers[1].json() == answers[0].json()
    assert registry.calls == 1


def test_a_backends_own_unavailable_keeps_its_message_and_its_answer() -> None:
    registry = Registry(busy)
    with serving(registry) as target, gateway(registry=target) as http:
        answers = [post_tenant(http, "busy-1") for _ in range(2)]
    for answer in answers:
        assert assert_unavailable(answer, target) == BUSY
    # The backend ran: it may have committed before it could not tell, so it does not run again.
    assert answers[1].headers["Idempotent-Replayed"] == "true"
    assert registry.calls == 1


def test_a_request_its_backend_says_it_did_not_do_leaves_its_key_free_for_the_retry() -> None:
    registry = Registry(not_done_once)
    with serving(registry) as target, gateway(registry=target) as http:
        first = post_tenant(http, "not-done-1")
        retried = post_tenant(http, "not-done-1")
    assert assert_unavailable(first, target) == BUSY
    assert retried.status_code == 201 and "Idempotent-Replayed" not in retried.headers
    assert registry.calls == 2


def test_a_request_no_backend_received_leaves_its_key_free_for_the_retry() -> None:
    target = closed_target()
    registry = Registry(created)
    with gateway(registry=target) as http:
        assert_unavailable(post_tenant(http, "early-1"), target)
        with serving(registry, int(target.rpartition(":")[2])):
            retried = eventually(
                lambda: (answer := post_tenant(http, "early-1")).status_code != 503 and answer,
                what="the registry to come up",
            )
    assert retried.status_code == 201 and "Idempotent-Replayed" not in retried.headers
    assert registry.calls == 1
