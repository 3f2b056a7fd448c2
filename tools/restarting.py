"""Runs a command and starts it again whenever it ends, until it is told to stop.

Usage: python tools/restarting.py COMMAND [ARG ...]

`make run` starts each process of the Procfile through this, doing what Kubernetes
does for a pod's container: a process that exits (a defect, a lost backend it did not
survive) is started again after a pause that grows while it keeps failing, instead of
honcho stopping the whole platform. SIGTERM or SIGINT stops it, and the command with it.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from types import FrameType

from services.kit.faults import backoff

# Pauses before starting again, as a restart policy's back-off.
RESTART_SECONDS = (0.5, 1.0, 2.0, 5.0, 10.0, 30.0)
# Exit statuses of a process that the stop signal ended.
STOPPED = {0, 128 + signal.SIGTERM, 128 + signal.SIGINT}
# A run this long counts as healthy: the next failure starts the pauses afresh.
HEALTHY_RUN_SECONDS = 60.0


def supervise(command: list[str]) -> int:
    """Runs `command` until a stop signal; returns 0 when that signal ended it, otherwise
    the exit status of its last run as a shell gives it (128 + the number of a signal)."""
    stopping = threading.Event()
    child: subprocess.Popen | None = None

    def stop(signum: int, _frame: FrameType | None) -> None:
        stopping.set()
        if child is not None and child.poll() is None:
            child.send_signal(signum)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    failures = 0
    while True:
        started = time.monotonic()
        child = subprocess.Popen(command)
        status = child.wait()
        status = 128 - status if status < 0 else status
        if stopping.is_set():
            # Ended by the signal that asked it to stop: a clean stop.
            return 0 if status in STOPPED else status
        failures = 0 if time.monotonic() - started >= HEALTHY_RUN_SECONDS else failures
        pause = backoff(failures, RESTART_SECONDS)
        failures += 1
        print(
            f"{command[0]} exited with status {status}; starting it again in {pause}s",
            file=sys.stderr,
            flush=True,
        )
        if stopping.wait(pause):
            return status


if __name__ == "__main__":
    if len(sys.argv) < 2:
        raise SystemExit(__doc__)
    sys.exit(supervise(sys.argv[1:]))
