"""The ledger, the one entrance through which money moves: its calls (deposits,
withdrawals, transfers, holds resolved), each once per idempotency key and committed in
batches, and its postings inside a caller's transaction (an order's escrow held and
released). Nothing else locks accounts or writes transfers."""

from services.marketplace.usecases.ledger.calls import Ledger
from services.marketplace.usecases.ledger.postings import (
    Leg,
    Movement,
    move_money,
    posted_event,
    release_escrow,
    resolve_pending,
)

__all__ = ["Ledger", "Leg", "Movement", "move_money", "posted_event", "release_escrow", "resolve_pending"]
