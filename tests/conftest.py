import os
from collections.abc import Iterator

import grpc
import pytest
from gantry.v1 import people_pb2_grpc

from tests.support.platform import Platform, running_platform

# Tests never touch a developer's running platform: their bus names and databases
# are their own, and the gateway tests use an operator token of their own.
os.environ.setdefault("GANTRY_LOG_LEVEL", "WARNING")


@pytest.fixture(scope="session")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    """Every process of the platform, started once for every test that needs it (the
    end-to-end and browser tests): two at once would double the connections to the one
    PostgreSQL and RabbitMQ of the machine."""
    with running_platform(tmp_path_factory.mktemp("platform-logs")) as running:
        yield running


@pytest.fixture(scope="session")
def registry_channel(platform: Platform) -> Iterator[grpc.Channel]:
    """A channel to the platform's registry-api, where tests make people and sessions."""
    with grpc.insecure_channel(platform.grpc_target("registry")) as channel:
        yield channel


@pytest.fixture(scope="session")
def platform_people(registry_channel: grpc.Channel) -> people_pb2_grpc.PeopleServiceStub:
    """The platform's PeopleService, as the console and tools call it."""
    return people_pb2_grpc.PeopleServiceStub(registry_channel)
