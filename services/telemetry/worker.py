"""Telemetry's nameko worker: keeps telemetry's directory of devices from registry events."""

from __future__ import annotations

from services.kit.events import Event
from services.kit.worker import handle_event, worker_base
from services.telemetry.service import Telemetry
from services.telemetry.storage import metadata


class TelemetryWorker(worker_base("telemetry", metadata)):
    name = "telemetry"

    @handle_event("telemetry.device-directory", ["device.registered"])
    def on_device_registered(self, event: Event) -> None:
        Telemetry(self.store.unit_of_work).learn_device(event)
