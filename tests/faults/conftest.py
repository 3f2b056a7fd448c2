"""The fault trial's platform, on backends of its own, and its figures at the session's end."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import ExitStack

import pytest

from tests.faults.figures import TRIAL
from tests.faults.trial import Trial
from tests.support.platform import running_platform
from tests.support.throwaway import throwaway_postgres, throwaway_rabbit


@pytest.fixture(scope="module")
def trial(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Trial]:
    """One platform for the module's scenarios, which run in sequence and may stop its
    backends: hence a PostgreSQL cluster and a RabbitMQ node of its own."""
    started = time.monotonic()
    with ExitStack() as stack:
        stack.callback(_record_module_seconds, started)
        postgres = stack.enter_context(throwaway_postgres())
        rabbit = stack.enter_context(throwaway_rabbit())
        stack.callback(_record_backend_timings, postgres.timings.seconds, rabbit.timings.seconds)
        platform_started = time.monotonic()
        platform = stack.enter_context(
            running_platform(tmp_path_factory.mktemp("fault-platform-logs"), postgres.url, rabbit.url)
        )
        TRIAL.platform_start_seconds = time.monotonic() - platform_started
        trial = Trial.open(platform, postgres, rabbit)
        # Runs before the platform stops: its clean-up needs both backends up.
        stack.callback(trial.ensure_backends)
        yield trial


def _record_module_seconds(started: float) -> None:
    TRIAL.module_seconds = time.monotonic() - started


def _record_backend_timings(postgres: dict[str, list[float]], rabbit: dict[str, list[float]]) -> None:
    TRIAL.backend_seconds = {
        **{f"PostgreSQL {what}": seconds for what, seconds in postgres.items()},
        **{f"RabbitMQ {what}": seconds for what, seconds in rabbit.items()},
    }


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/faults" in str(item.path):
            item.add_marker(pytest.mark.faults)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not TRIAL.scenarios:
        return
    terminalreporter.section("fault trial figures (measured, not asserted)")
    for line in TRIAL.lines():
        terminalreporter.write_line(line)
