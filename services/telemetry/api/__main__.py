"""Runs telemetry's `-api` process: python -m services.telemetry.api"""

from __future__ import annotations

import grpc
from gantry.v1 import telemetry_pb2_grpc

from services.kit import grpc_server, settings
from services.kit.bus import ConfirmingPublisher, Topology
from services.kit.store import Store
from services.telemetry.api.servicer import SERVICE_NAME, TelemetryServicer
from services.telemetry.storage import metadata


def main() -> None:
    publisher = ConfirmingPublisher(settings.amqp_url(), Topology.from_env())
    store = Store("telemetry", metadata, publisher)
    servicer = TelemetryServicer(store)

    def register(server: grpc.Server) -> None:
        telemetry_pb2_grpc.add_TelemetryServiceServicer_to_server(servicer, server)

    def stop() -> None:
        publisher.close()
        store.close()

    grpc_server.run("telemetry-api", register, [SERVICE_NAME], settings.grpc_port("telemetry"), on_stop=stop)


if __name__ == "__main__":
    main()
