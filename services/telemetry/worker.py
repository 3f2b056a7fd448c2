"""Telemetry's nameko worker: keeps telemetry's directory of devices and profiles from
the registry's events."""

from __future__ import annotations

from services.kit.events import Event
from services.kit.worker import handle_event, worker_base
from services.telemetry.batches import READINGS_QUEUE
from services.telemetry.directory import DIRECTORY_EVENTS, Directory
from services.telemetry.storage import metadata

# Consumed by the telemetry-writer process, declared with the worker's queues.
WORK_QUEUES = (READINGS_QUEUE,)


class TelemetryWorker(worker_base("telemetry", metadata)):
    name = "telemetry"

    @handle_event("telemetry.device-directory", DIRECTORY_EVENTS)
    def on_registry_event(self, event: Event) -> None:
        Directory(self.store.unit_of_work).learn(event)
