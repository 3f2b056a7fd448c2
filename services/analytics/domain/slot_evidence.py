"""Evidence of a booked machine-hour: what the machine's telemetry shows it did in a slot
a buyer booked of its capacity, summed from its quarter hours (ISO 22400 times).

Outside the site's shifts only producing and idle time is tracked (see performance.py),
and scrap only within them: the evidence says what was measured, no more.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum

from services.analytics.domain.performance import Inputs


class Verdict(StrEnum):
    # The machine produced in the slot, however briefly.
    RAN = "ran"
    # It did not produce and did not fail: it stood idle or was set up.
    IDLE = "idle"
    # It did not produce, and was faulted or failed.
    DOWN = "down"
    # Nothing of the slot was measured: the device has no machine model, or it reported
    # nothing in the slot.
    NOT_MEASURED = "not_measured"


@dataclass(frozen=True)
class SlotEvidence:
    starts_at: datetime
    ends_at: datetime
    verdict: Verdict
    producing_seconds: float = 0.0
    setup_seconds: float = 0.0
    idle_seconds: float = 0.0
    down_seconds: float = 0.0
    parts: float = 0.0
    good_parts: float = 0.0
    failures: int = 0


def evidence_of(starts_at: datetime, ends_at: datetime, machine: Inputs | None) -> SlotEvidence:
    """The slot's evidence from what the machine did in it (its quarters summed), or from
    nothing when the device is not measured (`machine` None)."""
    if machine is None:
        return SlotEvidence(starts_at, ends_at, Verdict.NOT_MEASURED)
    evidence = SlotEvidence(
        starts_at,
        ends_at,
        Verdict.NOT_MEASURED,
        producing_seconds=machine.apt + machine.unplanned_producing,
        setup_seconds=machine.asut,
        idle_seconds=machine.adet + machine.idle_outside_plan,
        down_seconds=machine.adot,
        parts=machine.pq + machine.unplanned_pq,
        good_parts=machine.gq + machine.unplanned_pq,
        failures=machine.failures,
    )
    return _judged(evidence)


def _judged(evidence: SlotEvidence) -> SlotEvidence:
    if evidence.producing_seconds > 0 or evidence.parts > 0:
        verdict = Verdict.RAN
    elif evidence.down_seconds > 0 or evidence.failures > 0:
        verdict = Verdict.DOWN
    elif evidence.idle_seconds > 0 or evidence.setup_seconds > 0:
        verdict = Verdict.IDLE
    else:
        verdict = Verdict.NOT_MEASURED
    return replace(evidence, verdict=verdict)
