"""Marketplace's nameko worker: relays its outbox, keeps the directory of companies from
the registry's tenant events, the capacity analytics measured of devices and the evidence
of capacity orders' booked slots, and forgets idempotency records once no retry can come
that late."""

from __future__ import annotations

from datetime import UTC, datetime

from nameko.timer import timer

from services.kit.events import Event
from services.kit.worker import PRUNE_SECONDS, handle_event, worker_base
from services.marketplace.bus import COMPANIES, MEASUREMENTS, SLOT_EVIDENCE
from services.marketplace.storage import metadata
from services.marketplace.usecases.capacity import MeasuredCapacities
from services.marketplace.usecases.figures import PlatformFigures
from services.marketplace.usecases.idempotency import forget_expired
from services.marketplace.usecases.slot_evidence import SlotEvidences


class MarketplaceWorker(worker_base("marketplace", metadata)):
    name = "marketplace"

    @handle_event(COMPANIES)
    def on_tenant_event(self, event: Event) -> None:
        PlatformFigures(self.store.unit_of_work).learn(event)

    @handle_event(MEASUREMENTS)
    def on_capacity_measured(self, event: Event) -> None:
        MeasuredCapacities(self.store.unit_of_work).learn(event)

    @handle_event(SLOT_EVIDENCE)
    def on_slot_evidence(self, event: Event) -> None:
        SlotEvidences(self.store.unit_of_work).learn(event)

    @timer(interval=PRUNE_SECONDS)
    def forget_old_idempotency_keys(self) -> None:
        forget_expired(self.store.unit_of_work, datetime.now(UTC))
