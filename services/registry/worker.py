"""The registry's nameko worker: keeps devices' last-seen times from telemetry's batches,
and prunes what people leave behind (abandoned sign-ups, expired tokens and sessions)."""

from __future__ import annotations

from nameko.timer import timer

from services.kit.events import Event
from services.kit.worker import PRUNE_SECONDS, handle_event, worker_base
from services.registry.bus import DEVICE_ACTIVITY
from services.registry.settings import sign_up_policy
from services.registry.storage import metadata
from services.registry.usecases.devices import Devices
from services.registry.usecases.people_signup import SignUps


class RegistryWorker(worker_base("registry", metadata)):
    name = "registry"

    @handle_event(DEVICE_ACTIVITY)
    def on_batch_stored(self, event: Event) -> None:
        Devices(self.store.unit_of_work).record_batch(event)

    @timer(interval=PRUNE_SECONDS)
    def prune_people(self) -> None:
        SignUps(self.store.unit_of_work, sign_up_policy()).prune()
