"""Machine performance per ISO 22400-2: the times and quantities of a period (`Inputs`)
and the figures made of them (`Figures`).

`bucket_inputs` splits a machine's timeline along arbitrary boundaries (UTC quarter
hours, the site's local hours, shifts or days) against the planned shifts of the range:
- Time in a category counts towards APT, ASUT, ADET, ADOT or PDOT only where it
  overlaps planned time; PBT = planned time - PDOT (ISO: POT - PDOT). Planned busy time
  neither producing, in setup, idle nor faulted is `unreported`: the machine was silent,
  or no segment covers it yet.
- Outside the plan, producing time is `unplanned_producing` and idle time is
  `idle_outside_plan`: a machine standing ready outside its shifts is capacity to sell.
  Other time outside the plan (setup, faults, planned downtime, silence) is not summed.
- A count holds the parts made up to its time: it belongs to the bucket ending at or
  after it, [PQ, SQ, PRU.PQ] when that instant is in planned time (shift end included),
  `unplanned_pq` otherwise.
- A failure counts once, in the bucket where it starts; its restoration (and its whole
  duration) in the bucket where it ends. Both count in or out of the plan, as a machine
  breaks whether or not it was planned to run; so MTBF's operating time is all
  producing time, planned or not.

Inputs add up (`+`): hours sum into shifts, days, weeks, sites and fleets. PRU varies by
machine, so the additive quantity is the ideal production time, sum of PRU.PQ.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, fields, replace
from datetime import UTC, datetime, timedelta
from itertools import pairwise

from services.analytics.domain.calendar import PlannedShift
from services.analytics.domain.timeline import Category, Timeline

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MILLISECOND = timedelta(milliseconds=1)


@dataclass(frozen=True, slots=True)
class Inputs:
    """One period's times in seconds and quantities in items."""

    # Planned busy time: planned shift time less PDOT.
    pbt: float = 0
    # Actual production, unit setup, unit delay and unit down time; planned downtime.
    apt: float = 0
    asut: float = 0
    adet: float = 0
    adot: float = 0
    pdot: float = 0
    # Planned busy time in none of the above: the machine did not report.
    unreported: float = 0
    unplanned_producing: float = 0
    idle_outside_plan: float = 0
    # All producing time, planned or not: MTBF's operating time.
    operating: float = 0
    # Produced and scrap quantity within planned time; produced outside it.
    pq: float = 0
    sq: float = 0
    unplanned_pq: float = 0
    # Sum of PRU.PQ: the time the planned quantity PQ takes at the ideal cycle time.
    ideal_production: float = 0
    # Entries into FAULT; faults ended, and the sum of their durations in seconds.
    failures: int = 0
    restorations: int = 0
    restoration: float = 0

    @property
    def gq(self) -> float:
        return self.pq - self.sq

    @property
    def aubt(self) -> float:
        """Actual unit busy time."""
        return self.apt + self.asut + self.adet

    def __add__(self, other: Inputs) -> Inputs:
        return Inputs(*(getattr(self, name) + getattr(other, name) for name in _INPUT_NAMES))

    def __sub__(self, other: Inputs) -> Inputs:
        return Inputs(*(getattr(self, name) - getattr(other, name) for name in _INPUT_NAMES))


# In the order of Inputs' fields: figures add up a year of hours at a time.
_INPUT_NAMES = tuple(f.name for f in fields(Inputs))


@dataclass(frozen=True, slots=True)
class Figures:
    """The KPIs of ISO 22400-2 for one period; a ratio is None where its denominator is
    zero. OEE is None whenever a factor is: a period without parts has no quality."""

    inputs: Inputs
    availability: float | None
    effectiveness: float | None
    quality_ratio: float | None
    oee: float | None
    utilisation_efficiency: float | None
    technical_efficiency: float | None
    # Seconds.
    mtbf: float | None
    mttr: float | None

    @classmethod
    def of(cls, inputs: Inputs) -> Figures:
        availability = _ratio(inputs.apt, inputs.pbt)
        effectiveness = _ratio(inputs.ideal_production, inputs.apt)
        quality = _ratio(inputs.gq, inputs.pq)
        defined = availability is not None and effectiveness is not None and quality is not None
        return cls(
            inputs=inputs,
            availability=availability,
            effectiveness=effectiveness,
            quality_ratio=quality,
            oee=availability * effectiveness * quality if defined else None,  # type: ignore[operator]
            utilisation_efficiency=_ratio(inputs.apt, inputs.aubt),
            technical_efficiency=_ratio(inputs.apt, inputs.apt + inputs.adet),
            mtbf=_ratio(inputs.operating, inputs.failures),
            mttr=_ratio(inputs.restoration, inputs.restorations),
        )


def planned_seconds(plan: Sequence[PlannedShift], spans: Sequence[tuple[datetime, datetime]]) -> list[float]:
    """The planned time of each span [start, end), `plan` covering them all."""
    planned = _Plan.of(plan)
    return [planned.overlap(_ms(start), _ms(end)) / 1000 for start, end in spans]


def machine_part(inputs: Inputs) -> Inputs:
    """What the machine did in a bucket, without what the plan gives it (PBT and the
    unreported rest of it): the part that adds up when one bucket is tracked in pieces,
    flush after flush. `with_plan` gives a period its plan back."""
    return replace(inputs, pbt=0, unreported=0)


def with_plan(machine: Inputs, planned_seconds: float) -> Inputs:
    """A period's inputs from the machine's parts summed over it and the time the plan
    gives it: PBT = planned - PDOT, and what of it the machine did not report."""
    pbt = planned_seconds - machine.pdot
    busy = machine.apt + machine.asut + machine.adet + machine.adot
    return replace(machine, pbt=pbt, unreported=max(0.0, pbt - busy))


def _ratio(numerator: float, denominator: float) -> float | None:
    return numerator / denominator if denominator else None


def bucket_inputs(
    boundaries: Sequence[datetime], plan: Sequence[PlannedShift], timeline: Timeline, pru_seconds: float
) -> list[Inputs]:
    """The inputs of each bucket [boundaries[i], boundaries[i + 1]) of one machine
    with the ideal cycle time `pru_seconds`. `plan` covers the buckets' range, as
    `ShiftCalendar.planned` gives it; what lies outside the buckets is left out."""
    edges = [_ms(boundary) for boundary in boundaries]
    if any(later <= earlier for earlier, later in pairwise(edges)):
        raise ValueError("bucket boundaries must increase")
    planned = _Plan.of(plan)
    tallies = [_Tally(planned.overlap(lo, hi)) for lo, hi in pairwise(edges)]
    for segment in timeline.segments:
        for index, lo, hi in _pieces(edges, segment.start_ms, segment.end_ms):
            inside = planned.overlap(lo, hi)
            tallies[index].add_time(segment.category, inside, hi - lo - inside)
    for count in timeline.counts:
        if (index := _closing(edges, count.ts_ms)) is not None:
            tallies[index].add_count(count.produced, count.scrap, planned.closes(count.ts_ms))
    for ts_ms in timeline.failures:
        if (index := _opening(edges, ts_ms)) is not None:
            tallies[index].failures += 1
    for restoration in timeline.restorations:
        if (index := _closing(edges, restoration.end_ms)) is not None:
            tallies[index].restorations += 1
            tallies[index].restoration_ms += restoration.end_ms - restoration.start_ms
    return [tally.inputs(pru_seconds) for tally in tallies]


@dataclass(frozen=True, slots=True)
class _Plan:
    """Planned time as sorted, disjoint [start, end) spans in ms; shifts that touch merge,
    so that a count at the change of shift is in neither's end nor start alone."""

    starts: list[int]
    ends: list[int]

    @classmethod
    def of(cls, plan: Sequence[PlannedShift]) -> _Plan:
        starts: list[int] = []
        ends: list[int] = []
        for start, end in sorted((_ms(p.start), _ms(p.end)) for p in plan):
            if ends and start <= ends[-1]:
                ends[-1] = max(ends[-1], end)
            else:
                starts.append(start)
                ends.append(end)
        return cls(starts, ends)

    def overlap(self, lo: int, hi: int) -> int:
        total = 0
        index = bisect_right(self.ends, lo)
        while index < len(self.starts) and self.starts[index] < hi:
            total += min(hi, self.ends[index]) - max(lo, self.starts[index])
            index += 1
        return total

    def closes(self, ts_ms: int) -> bool:
        """Whether `ts_ms` lies in a span (start, end]: what was made up to it was planned."""
        index = bisect_left(self.ends, ts_ms)
        return index < len(self.starts) and self.starts[index] < ts_ms


@dataclass(slots=True)
class _Tally:
    planned_ms: int
    inside_ms: dict[Category, int] = field(default_factory=dict)
    outside_ms: dict[Category, int] = field(default_factory=dict)
    pq: float = 0
    sq: float = 0
    unplanned_pq: float = 0
    failures: int = 0
    restorations: int = 0
    restoration_ms: int = 0

    def add_time(self, category: Category, inside_ms: int, outside_ms: int) -> None:
        self.inside_ms[category] = self.inside_ms.get(category, 0) + inside_ms
        self.outside_ms[category] = self.outside_ms.get(category, 0) + outside_ms

    def add_count(self, produced: float, scrap: float, planned: bool) -> None:
        if planned:
            self.pq += produced
            self.sq += scrap
        else:
            self.unplanned_pq += produced

    def inputs(self, pru_seconds: float) -> Inputs:
        inside = {category: self.inside_ms.get(category, 0) / 1000 for category in Category}
        outside = {category: self.outside_ms.get(category, 0) / 1000 for category in Category}
        pbt = self.planned_ms / 1000 - inside[Category.PLANNED_DOWNTIME]
        apt, asut, adet, adot = (
            inside[c] for c in (Category.PRODUCING, Category.SETUP, Category.IDLE, Category.FAULT)
        )
        return Inputs(
            pbt=pbt,
            apt=apt,
            asut=asut,
            adet=adet,
            adot=adot,
            pdot=inside[Category.PLANNED_DOWNTIME],
            unreported=pbt - apt - asut - adet - adot,
            unplanned_producing=outside[Category.PRODUCING],
            idle_outside_plan=outside[Category.IDLE],
            operating=apt + outside[Category.PRODUCING],
            pq=self.pq,
            sq=self.sq,
            unplanned_pq=self.unplanned_pq,
            ideal_production=pru_seconds * self.pq,
            failures=self.failures,
            restorations=self.restorations,
            restoration=self.restoration_ms / 1000,
        )


def _pieces(edges: list[int], start_ms: int, end_ms: int) -> Iterator[tuple[int, int, int]]:
    """[start_ms, end_ms) cut at the edges: (bucket index, piece start, piece end)."""
    index = max(bisect_right(edges, start_ms) - 1, 0)
    while index < len(edges) - 1 and edges[index] < end_ms:
        lo, hi = max(start_ms, edges[index]), min(end_ms, edges[index + 1])
        if lo < hi:
            yield index, lo, hi
        index += 1


def _opening(edges: list[int], ts_ms: int) -> int | None:
    """The bucket [lo, hi) holding `ts_ms`."""
    index = bisect_right(edges, ts_ms) - 1
    return index if 0 <= index < len(edges) - 1 else None


def _closing(edges: list[int], ts_ms: int) -> int | None:
    """The bucket (lo, hi] holding `ts_ms`: what ends at a boundary belongs before it."""
    index = bisect_left(edges, ts_ms) - 1
    return index if 0 <= index < len(edges) - 1 else None


def _ms(instant: datetime) -> int:
    # Integer arithmetic, exact where floats of seconds are not; a naive instant raises.
    return (instant - EPOCH) // MILLISECOND
