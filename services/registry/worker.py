"""The registry's nameko worker: keeps devices' last-seen times from telemetry's batches."""

from __future__ import annotations

from services.kit.events import Event
from services.kit.worker import handle_event, worker_base
from services.registry.bus import DEVICE_ACTIVITY
from services.registry.storage import metadata
from services.registry.usecases.devices import Devices


class RegistryWorker(worker_base("registry", metadata)):
    name = "registry"

    @handle_event(DEVICE_ACTIVITY)
    def on_batch_stored(self, event: Event) -> None:
        Devices(self.store.unit_of_work).record_batch(event)
