"""A database outage is UNAVAILABLE, something to retry, with nothing of the cause leaked."""

from __future__ import annotations

import uuid

import grpc
import pytest
from gantry.v1 import registry_pb2 as pb

from services.kit.bus import ConfirmingPublisher
from services.kit.store import Store
from services.registry import storage
from tests.support.registry import devices_server

UNREACHABLE_DATABASE = "postgresql://gantry:secret-password@127.0.0.1:1/registry"


def test_a_database_outage_is_unavailable_and_says_nothing_about_it(publisher: ConfirmingPublisher) -> None:
    store = Store("registry", storage.metadata, publisher, url=UNREACHABLE_DATABASE)
    with devices_server(store) as registry, pytest.raises(grpc.RpcError) as raised:
        registry.GetDevice(
            pb.GetDeviceRequest(tenant_id=str(uuid.uuid4()), device_id=str(uuid.uuid4())),
            metadata=(("x-request-id", "trace-outage-1"),),
            timeout=10,
        )
    store.close()
    assert raised.value.code() == grpc.StatusCode.UNAVAILABLE
    assert raised.value.details() == "the service's database is unavailable; retry shortly"
