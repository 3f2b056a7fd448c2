"""`make run`'s restart policy: a process that exits is started again, and a stop signal
stops it for good."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.waiting import eventually

ROOT = Path(__file__).resolve().parents[2]
WAIT_SECONDS = 20


def restarting(command: list[str], stderr: Path | None = None) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    with open(stderr or os.devnull, "ab") as errors:
        return subprocess.Popen(
            [sys.executable, str(ROOT / "tools" / "restarting.py"), *command], env=env, stderr=errors
        )


@pytest.fixture
def supervisor() -> Iterator[list[subprocess.Popen]]:
    started: list[subprocess.Popen] = []
    yield started
    for process in started:
        if process.poll() is None:
            process.kill()
            process.wait(WAIT_SECONDS)


def test_a_process_that_exits_is_started_again(tmp_path: Path, supervisor: list) -> None:
    runs, said = tmp_path / "runs", tmp_path / "stderr"
    crashing = f"open({str(runs)!r}, 'a').write('run\\n'); raise SystemExit(3)"
    process = restarting([sys.executable, "-c", crashing], stderr=said)
    supervisor.append(process)

    # Stopped in the pause after a third failed run, not while a run is still ending (which
    # the stop signal would end cleanly).
    eventually(lambda: said.read_text().count("exited with status 3") >= 3, WAIT_SECONDS, "three runs")
    process.send_signal(signal.SIGTERM)

    assert process.wait(WAIT_SECONDS) == 3


def test_a_stop_signal_stops_the_running_process_and_no_new_one_starts(
    tmp_path: Path, supervisor: list
) -> None:
    runs = tmp_path / "runs"
    lasting = f"import time; open({str(runs)!r}, 'a').write('run\\n'); time.sleep(600)"
    process = restarting([sys.executable, "-c", lasting])
    supervisor.append(process)
    eventually(runs.exists, WAIT_SECONDS, "the first run")

    process.send_signal(signal.SIGTERM)

    assert process.wait(WAIT_SECONDS) == 0, "a clean stop"
    assert runs.read_text().splitlines() == ["run"]


def test_make_run_stopped_by_ctrl_c_stops_every_process_cleanly_and_exits_0(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    running = f"import time; open({str(runs)!r}, 'a').write('run\\n'); time.sleep(600)"
    lasting = f'exec {sys.executable} tools/restarting.py {sys.executable} -c "{running}"'
    program = f"import sys; from tools.run import run_all; sys.exit(run_all({{'one': {lasting!r}, 'two': {lasting!r}}}))"
    output = tmp_path / "output"
    with output.open("wb") as sink:
        # A session of its own, as a terminal's foreground group that Ctrl-C signals whole.
        run = subprocess.Popen(
            [sys.executable, "-c", program],
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        eventually(
            lambda: runs.exists() and len(runs.read_text().splitlines()) == 2, WAIT_SECONDS, "both running"
        )
        os.killpg(run.pid, signal.SIGINT)
        assert run.wait(WAIT_SECONDS) == 0, output.read_text()
    finally:
        if run.poll() is None:
            os.killpg(run.pid, signal.SIGKILL)
            run.wait(WAIT_SECONDS)
    printed = output.read_text()
    assert printed.count("stopped (rc=0)") == 2 and "Gantry stopped." in printed
