"""Telemetry's nameko worker: keeps telemetry's directory of devices and profiles from
the registry's events."""

from __future__ import annotations

from services.kit.events import Event
from services.kit.worker import handle_event, worker_base
from services.telemetry.bus import DEVICE_DIRECTORY
from services.telemetry.storage import metadata
from services.telemetry.usecases.directory import Directory


class TelemetryWorker(worker_base("telemetry", metadata)):
    name = "telemetry"

    @handle_event(DEVICE_DIRECTORY)
    def on_registry_event(self, event: Event) -> None:
        Directory(self.store.unit_of_work).learn(event)
