"""Starts every process of the platform in the foreground with prefixed logs (`make run`).

Prints the gateway URL and the operator credential first: GANTRY_OPERATOR_TOKEN when
set, otherwise a new random token for this run. Unless SIMULATE=0, a simulated factory
(tools/simulate.py) streams telemetry beside them, and simulated MQTT machines
(tools/simulate_mqtt.py) join it. A process that exits is started
again (tools/restarting.py). Ctrl-C stops every process, and a clean stop exits 0.
"""

from __future__ import annotations

import os
import secrets
import sys
from pathlib import Path

from honcho.manager import Manager
from honcho.printer import Printer

ROOT = Path(__file__).resolve().parent.parent
# honcho's exit status after SIGINT (Ctrl-C) or SIGTERM.
STOP_SIGNAL_STATUSES = (130, 143)


def main() -> None:
    token = os.environ.get("GANTRY_OPERATOR_TOKEN") or secrets.token_urlsafe(24)
    os.environ["GANTRY_OPERATOR_TOKEN"] = token
    port = os.environ.get("GANTRY_GATEWAY_PORT", "8080")
    mqtt_port = os.environ.get("GANTRY_MQTT_PORT", "1884")
    print(
        f"""
Gantry is starting.
  Gateway:        http://127.0.0.1:{port}   (API docs at /docs, health at /healthz)
  MQTT:           127.0.0.1:{mqtt_port}   (ThingsBoard's MQTT device API: a device's access token as user name)
  Operator token: {token}
  Try:            curl -s -X POST http://127.0.0.1:{port}/v1/tenants \\
                    -H 'Authorization: Bearer {token}' -H 'Content-Type: application/json' \\
                    -d '{{"name": "Acme Precision", "country": "CN", "size_class": "small"}}'
A simulated factory streams telemetry once the gateway is ready, some of its machines over
MQTT (SIMULATE=0 turns it off).
Press Ctrl-C to stop.
""",
        flush=True,
    )
    # A developer's webhook receivers are on this machine, over plain http: production
    # refuses both, which would leave nothing to try webhooks with.
    os.environ.setdefault("GANTRY_ANALYTICS_WEBHOOKS_ALLOW_PRIVATE", "true")
    os.environ.setdefault("GANTRY_ANALYTICS_WEBHOOKS_ALLOW_HTTP", "true")
    # Capacity measured every minute rather than every hour: the simulated factory's
    # capacity listing shows its measured figures within minutes of the start.
    os.environ.setdefault("GANTRY_ANALYTICS_CAPACITY_SECONDS", "60")
    # A developer signs companies up without an operator to approve them.
    os.environ.setdefault("GANTRY_SIGNUP_MODE", "open")
    venv_bin = Path(sys.executable).parent
    # The Procfile's `python` and `nameko` must be this environment's.
    os.environ["PATH"] = f"{venv_bin}{os.pathsep}{os.environ.get('PATH', '')}"
    # nameko 2.14 imports eventlet and pkg_resources, which announce their retirement
    # on every start; the announcement is known and only hides the platform's own logs.
    os.environ.setdefault(
        "PYTHONWARNINGS", "ignore::Warning:nameko.cli.commands,ignore::UserWarning:nameko.cli.main"
    )
    sys.exit(run_all(processes()))


def processes() -> dict[str, str]:
    """Each process of the Procfile, restarted whenever it exits (tools/restarting.py), and
    the simulated factory as one more unless SIMULATE=0."""
    entries = [line for line in (ROOT / "Procfile").read_text().splitlines() if line.strip()]
    if os.environ.get("SIMULATE", "1") != "0":
        entries.append("factory: python tools/simulate.py")
        entries.append("mqtt-machines: python tools/simulate_mqtt.py")
    commands = dict(entry.partition(":")[::2] for entry in entries)
    # exec: the shell honcho starts gives way to the process, which then gets the stop signal.
    return {
        name.strip(): f"exec python tools/restarting.py {command.strip()}"
        for name, command in commands.items()
    }


def run_all(commands: dict[str, str]) -> int:
    """Runs `commands` under honcho, their output prefixed with their names, until one
    exits or Ctrl-C (or SIGTERM) stops them all; 0 when every one stopped cleanly."""
    manager = Manager(Printer(sys.stdout))
    for name, command in commands.items():
        manager.add_process(name, command, cwd=str(ROOT))
    manager.loop()
    # honcho answers a stop signal with its number; processes that all ended well on it
    # are a clean stop. (Its per-process outcomes are private to it: pinned in the lock.)
    stopped = [process.get("returncode") for process in manager._processes.values()]
    if manager.returncode in STOP_SIGNAL_STATUSES and all(code == 0 for code in stopped):
        print("Gantry stopped.", flush=True)
        return 0
    return manager.returncode or 0


if __name__ == "__main__":
    main()
