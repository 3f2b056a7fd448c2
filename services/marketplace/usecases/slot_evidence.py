"""What analytics measured of the machine in each booked slot of a capacity order
(capacity.slot_evidence), kept with the order for its parties and the operator to weigh,
in a dispute above all."""

from __future__ import annotations

import logging

from services.kit.events import Event
from services.marketplace.queries import orders as order_queries
from services.marketplace.queries import slot_evidence as sql
from services.marketplace.usecases import UnitOfWorkFactory

log = logging.getLogger(__name__)

EVIDENCE_EVENTS = ("capacity.slot_evidence",)


class SlotEvidences:
    def __init__(self, unit_of_work: UnitOfWorkFactory) -> None:
        self._unit_of_work = unit_of_work

    def learn(self, event: Event) -> bool:
        """Keeps the evidence of an order's slots; False when the event was already
        handled. Evidence of an order the event's tenant does not sell is not kept: only
        the seller's device can witness the seller's machine-hours."""
        data = event.data
        with self._unit_of_work() as uow:
            if not uow.claim(event):
                return False
            order = order_queries.find_order(uow.connection, data["order_id"])
            if order is None or order.seller_id != event.tenant_id:
                log.warning("slot evidence of no order of its tenant's", extra={"order_id": data["order_id"]})
            else:
                rows = [
                    {**slot, "order_id": order.id, "measured_at": data["measured_at"]}
                    for slot in data["slots"]
                ]
                sql.add_evidence(uow.connection, rows)
            uow.commit()
        return True
