"""Failures the caller cannot act on become INTERNAL, with nothing of the cause leaked."""

from __future__ import annotations

import grpc
import pytest
from gantry.v1 import registry_pb2 as pb
from gantry.v1 import registry_pb2_grpc

from services.kit.bus import ConfirmingPublisher
from services.kit.grpc_server import build_server
from services.kit.store import Store
from services.registry import api, storage

UNREACHABLE_DATABASE = "postgresql://gantry:secret-password@127.0.0.1:1/registry"


def test_a_database_outage_is_internal_and_says_nothing_about_it(publisher: ConfirmingPublisher) -> None:
    store = Store("registry", storage.metadata, publisher, url=UNREACHABLE_DATABASE)
    server, _, port = build_server(lambda s: api.add_servicer(s, store), ["gantry.v1.RegistryService"], 0)
    try:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            stub = registry_pb2_grpc.RegistryServiceStub(channel)
            with pytest.raises(grpc.RpcError) as raised:
                stub.CreateTenant(
                    pb.CreateTenantRequest(name="Acme", country="CN", size_class=pb.SIZE_CLASS_SMALL),
                    metadata=(("x-request-id", "trace-outage-1"),),
                    timeout=10,
                )
    finally:
        server.stop(None)
        store.close()
    assert raised.value.code() == grpc.StatusCode.INTERNAL
    assert raised.value.details() == "internal error (request trace-outage-1)"
