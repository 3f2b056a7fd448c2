"""A bare grpcio server answering GetDevice with one constant device: the reference the
registry benchmark compares against. It is an asyncio server answering from a coroutine,
as the registry's GetDevice is. Usage: python -m bench._bare_grpc PORT DEVICE_HEX"""

from __future__ import annotations

import asyncio
import sys

import grpc
from gantry.v1 import registry_pb2 as pb
from gantry.v1 import registry_pb2_grpc
from grpc_health.v1 import health, health_pb2_grpc


class ConstantRegistry(registry_pb2_grpc.RegistryServiceServicer):
    def __init__(self, device: pb.Device) -> None:
        self.device = device

    async def GetDevice(self, request: pb.GetDeviceRequest, context: grpc.aio.ServicerContext) -> pb.Device:
        return self.device


async def main(port: int, device_hex: str) -> None:
    server = grpc.aio.server()
    registry_pb2_grpc.add_RegistryServiceServicer_to_server(
        ConstantRegistry(pb.Device.FromString(bytes.fromhex(device_hex))), server
    )
    # Health only tells the benchmark the server is up; GetDevice takes no detour through it.
    health_pb2_grpc.add_HealthServicer_to_server(health.aio.HealthServicer(), server)
    server.add_insecure_port(f"127.0.0.1:{port}")
    await server.start()
    await server.wait_for_termination()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]), sys.argv[2]))
