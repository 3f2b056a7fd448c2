"""The evidence of a booked slot from hand-made quarters of what the machine did in it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.analytics.domain.performance import Inputs
from services.analytics.domain.slot_evidence import SlotEvidence, Verdict, evidence_of

START = datetime(2031, 3, 3, 10, tzinfo=UTC)
END = START + timedelta(hours=1)


def quarters(*each: Inputs) -> Inputs:
    """What the machine did in the slot: its four quarters summed, as analytics sums them."""
    assert len(each) == 4
    return sum(each[1:], each[0])


def test_a_machine_that_produced_ran_and_its_parts_and_faults_are_counted() -> None:
    machine = quarters(
        Inputs(apt=900, pq=20, sq=1),
        Inputs(apt=600, adet=300, pq=12),
        Inputs(adot=900, failures=1),
        Inputs(unplanned_producing=300, idle_outside_plan=600, unplanned_pq=5),
    )
    assert evidence_of(START, END, machine) == SlotEvidence(
        START,
        END,
        Verdict.RAN,
        producing_seconds=1800,
        idle_seconds=900,
        down_seconds=900,
        parts=37,
        good_parts=36,
        failures=1,
    )


@pytest.mark.parametrize(
    ("machine", "verdict"),
    [
        (quarters(Inputs(adet=900), Inputs(adet=900), Inputs(adot=900), Inputs(adet=900)), Verdict.DOWN),
        # A fault begun outside the shifts: its time is not tracked there, the failure is.
        (quarters(Inputs(idle_outside_plan=900), Inputs(failures=1), Inputs(), Inputs()), Verdict.DOWN),
        (quarters(Inputs(asut=900), Inputs(adet=900), Inputs(), Inputs(idle_outside_plan=900)), Verdict.IDLE),
        (quarters(Inputs(), Inputs(), Inputs(), Inputs()), Verdict.NOT_MEASURED),
    ],
)
def test_a_machine_that_did_not_produce_was_down_idle_or_silent(machine: Inputs, verdict: Verdict) -> None:
    assert evidence_of(START, END, machine).verdict is verdict


def test_a_device_without_a_machine_model_is_not_measured() -> None:
    assert evidence_of(START, END, None) == SlotEvidence(START, END, Verdict.NOT_MEASURED)
