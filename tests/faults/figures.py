"""What the fault scenarios measured, kept for the session and printed as one table at its
end (tests/faults/conftest.py). Figures are printed, never asserted: they depend on the
machine; the invariants are what the scenarios assert."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from itertools import pairwise

from tests.faults.streams import Attempt


@dataclass
class ScenarioFigures:
    name: str
    failed: list[str] = field(default_factory=list)
    acknowledged: int = 0
    stored: int = 0
    trades: int = 0
    # Client-visible server errors by HTTP status; "conn" when there was no answer.
    server_errors: Counter[str] = field(default_factory=Counter)
    # Those of requests sent once the faulted component answered again.
    errors_after_recovery: int = 0
    dead_letters: int = 0
    # From each fault to its component answering again (the slowest of the scenario's faults).
    ready_seconds: float | None = None
    # From each fault to the first acknowledgement of a request sent after it.
    first_ack_seconds: float | None = None
    # The longest time in the scenario without any acknowledgement.
    longest_gap_seconds: float | None = None
    # From the clients' stop to every acknowledged reading being stored.
    catch_up_seconds: float | None = None
    # How long the final check waited for every queue to have its consumer again.
    consumers_seconds: float | None = None
    # A new device registered, its reading stored and the device made active by events.
    round_trip_seconds: float | None = None
    notes: list[str] = field(default_factory=list)

    def record_attempts(
        self, attempts: list[Attempt], faults: list[float], recovered_at: float | None
    ) -> None:
        failed = [attempt for attempt in attempts if attempt.server_error]
        self.server_errors.update("conn" if a.status is None else str(a.status) for a in failed)
        if recovered_at is not None:
            self.errors_after_recovery = sum(a.started >= recovered_at for a in failed)
        bodies = Counter(_problem_summary(a) for a in failed if a.problem)
        self.notes += [f"{count} x {body}" for body, count in bodies.most_common(3)]
        answered = sorted(a.ended for a in attempts if not a.server_error)
        if len(answered) > 1:
            self.longest_gap_seconds = max(later - earlier for earlier, later in pairwise(answered))
        delays = [_first_answer_after(attempts, fault) for fault in faults]
        if delays and None not in delays:
            self.first_ack_seconds = max(d for d in delays if d is not None)

    @property
    def result(self) -> str:
        return "pass" if not self.failed else "FAIL: " + ", ".join(self.failed)


def _problem_summary(attempt: Attempt) -> str:
    """A server error as its type and detail: its request id makes every body unique."""
    try:
        problem = json.loads(attempt.problem)
        return f"{attempt.status} {problem.get('type')}: {problem.get('detail')}"
    except (ValueError, AttributeError):
        return f"{attempt.status} {attempt.problem[:200]}"


def _first_answer_after(attempts: list[Attempt], fault: float) -> float | None:
    answers = [a.ended for a in attempts if a.started >= fault and not a.server_error]
    return min(answers) - fault if answers else None


@dataclass
class TrialFigures:
    """Every scenario of the session, and how long the backends and platform took."""

    scenarios: list[ScenarioFigures] = field(default_factory=list)
    backend_seconds: dict[str, list[float]] = field(default_factory=dict)
    platform_start_seconds: float | None = None
    module_seconds: float | None = None

    def lines(self) -> list[str]:
        lines = [
            "backends: "
            + "; ".join(
                f"{what} {', '.join(f'{s:.2f}' for s in seconds)} s"
                for what, seconds in self.backend_seconds.items()
            ),
            f"platform start (migrations, 10 processes ready): {_seconds(self.platform_start_seconds)} s;"
            f" whole fault module: {_seconds(self.module_seconds)} s",
        ]
        rows = [_HEADER, *(_row(figures) for figures in self.scenarios)]
        widths = [max(len(row[i]) for row in rows) for i in range(len(_HEADER))]
        lines += [
            "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
            for row in rows
        ]
        for figures in self.scenarios:
            lines += [f"{figures.name}: {note}" for note in figures.notes]
            lines += [f"{figures.name}: {figures.result}"] if figures.failed else []
        return lines


_HEADER = [
    "scenario",
    "result",
    "acked",
    "stored",
    "trades",
    "5xx/conn",
    "5xx after",
    "DLQ",
    "ready s",
    "1st ack s",
    "max gap s",
    "catch-up s",
    "consumers wait s",
    "round trip s",
]


def _row(figures: ScenarioFigures) -> list[str]:
    errors = " ".join(f"{status}:{count}" for status, count in sorted(figures.server_errors.items())) or "0"
    return [
        figures.name,
        "pass" if not figures.failed else f"FAIL({len(figures.failed)})",
        str(figures.acknowledged),
        str(figures.stored),
        str(figures.trades),
        errors,
        str(figures.errors_after_recovery),
        str(figures.dead_letters),
        _seconds(figures.ready_seconds),
        _seconds(figures.first_ack_seconds),
        _seconds(figures.longest_gap_seconds),
        _seconds(figures.catch_up_seconds),
        _seconds(figures.consumers_seconds),
        _seconds(figures.round_trip_seconds),
    ]


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


# The one collector of the session, read by the terminal summary.
TRIAL = TrialFigures()
