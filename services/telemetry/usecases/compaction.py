"""Closed days compacted: telemetry-writer turns each day partition of readings whose day
ended GRACE ago into one compressed chunk per device (queries/compaction.py), between
writes. Readings that come later for a compacted day are written into its chunks."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from services.telemetry.queries import compaction
from services.telemetry.usecases import UnitOfWorkFactory

log = logging.getLogger(__name__)

# A day is compacted once it has been over this long: most late readings come before.
GRACE = timedelta(hours=2)


def compact_closed_days(unit_of_work: UnitOfWorkFactory, now: datetime) -> int:
    """Compacts every closed day partition that holds rows, a transaction each; returns
    the rows moved into chunks."""
    with unit_of_work() as uow:
        days = compaction.closed_days(uow.connection, now - GRACE)
    moved = 0
    for tier, day in days:
        with unit_of_work() as uow:
            rows = compaction.compact_day(uow.connection, tier, day)
            uow.commit()
        log.info("day compacted", extra={"retention_days": tier, "day": day.isoformat(), "rows": rows})
        moved += rows
    return moved
