"""Runs telemetry's `-api` process: python -m services.telemetry.api

Beside the gRPC server, an event listener keeps the process's memory of devices in
step with the registry's changes; while it is disconnected, every ingest call reads
the devices from the database. The health of the telemetry service follows whether the
broker confirms readings (`readiness`).
"""

from __future__ import annotations

import threading

from gantry.v1 import telemetry_pb2_grpc

from services.kit import grpc_server, settings
from services.kit.bus import ConfirmingPublisher, Topology
from services.kit.grpc_calls import Instrumented
from services.kit.listener import EventListener
from services.kit.periodic import Periodic
from services.kit.store import Store
from services.telemetry.api.ingest import sender
from services.telemetry.api.readiness import BrokerReadiness, health_report
from services.telemetry.api.servicer import SERVICE_NAME, TelemetryServicer
from services.telemetry.bus import READINGS
from services.telemetry.settings import IngestLimits, default_retention_days
from services.telemetry.storage import metadata
from services.telemetry.usecases.directory import DIRECTORY_EVENTS

# How often the readings refused are reported for the tenants' overviews.
REPORT_SECONDS = 10


def main() -> None:
    topology = Topology.from_env()
    publisher = ConfirmingPublisher(settings.amqp_url(), topology)
    readiness = BrokerReadiness(lambda: publisher.check(READINGS.name))
    publisher.on_failure = readiness.wake
    store = Store("telemetry", metadata, publisher)
    servicer = TelemetryServicer(store, sender(publisher), default_retention_days(), IngestLimits.from_env())
    rules = servicer.rules
    listener = EventListener(
        settings.amqp_url(),
        topology,
        DIRECTORY_EVENTS,
        rules.evict_for,
        on_connected=rules.resume,
        on_disconnected=rules.suspend,
    )

    stopping = threading.Event()
    threads: list[threading.Thread] = []
    reporting = Periodic("reporting rejections", servicer.rejections.report, REPORT_SECONDS, REPORT_SECONDS)

    def register(server: Instrumented) -> None:
        telemetry_pb2_grpc.add_TelemetryServiceServicer_to_server(servicer, server)
        listener.start()
        threads.append(reporting.run_on_thread(stopping))

    def stop() -> None:
        stopping.set()
        for thread in threads:
            thread.join(REPORT_SECONDS)
        readiness.stop()
        listener.stop()
        publisher.close()
        store.close()

    grpc_server.run(
        "telemetry-api",
        register,
        [SERVICE_NAME],
        settings.grpc_port("telemetry"),
        on_stop=stop,
        on_serving=lambda servicer: readiness.start(health_report(servicer, SERVICE_NAME)),
    )


if __name__ == "__main__":
    main()
