"""Starts every process of the platform in the foreground with prefixed logs (`make run`).

Prints the gateway URL and the operator credential first: GANTRY_OPERATOR_TOKEN when
set, otherwise a new random token for this run. Unless SIMULATE=0, a simulated factory
(tools/simulate.py) streams telemetry beside them. A process that exits is started
again (tools/restarting.py). Ctrl-C stops every process.
"""

from __future__ import annotations

import os
import secrets
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    token = os.environ.get("GANTRY_OPERATOR_TOKEN") or secrets.token_urlsafe(24)
    os.environ["GANTRY_OPERATOR_TOKEN"] = token
    port = os.environ.get("GANTRY_GATEWAY_PORT", "8080")
    print(
        f"""
Gantry is starting.
  Gateway:        http://127.0.0.1:{port}   (API docs at /docs, health at /healthz)
  Operator token: {token}
  Try:            curl -s -X POST http://127.0.0.1:{port}/v1/tenants \\
                    -H 'Authorization: Bearer {token}' -H 'Content-Type: application/json' \\
                    -d '{{"name": "Acme Precision", "country": "CN", "size_class": "small"}}'
A simulated factory streams telemetry once the gateway is ready (SIMULATE=0 turns it off).
Press Ctrl-C to stop.
""",
        flush=True,
    )
    venv_bin = Path(sys.executable).parent
    # The Procfile's `python` and `nameko` must be this environment's.
    os.environ["PATH"] = f"{venv_bin}{os.pathsep}{os.environ.get('PATH', '')}"
    # nameko 2.14 imports eventlet and pkg_resources, which announce their retirement
    # on every start; the announcement is known and only hides the platform's own logs.
    os.environ.setdefault(
        "PYTHONWARNINGS", "ignore::Warning:nameko.cli.commands,ignore::UserWarning:nameko.cli.main"
    )
    honcho = venv_bin / "honcho"
    os.execv(honcho, [str(honcho), "start", "--procfile", str(procfile()), "--app-root", str(ROOT)])


def procfile() -> Path:
    """The Procfile with every process restarted whenever it exits (tools/restarting.py),
    and the simulated factory as one more process unless SIMULATE=0."""
    entries = (ROOT / "Procfile").read_text().splitlines()
    if os.environ.get("SIMULATE", "1") != "0":
        entries.append("factory: python tools/simulate.py")
    supervised = ROOT / os.environ.get("GANTRY_DATA_DIR", "var") / "Procfile.run"
    supervised.parent.mkdir(parents=True, exist_ok=True)
    supervised.write_text("".join(_restarting(entry) for entry in entries if entry.strip()))
    return supervised


def _restarting(entry: str) -> str:
    name, _, command = entry.partition(":")
    return f"{name}: python tools/restarting.py {command.strip()}\n"


if __name__ == "__main__":
    main()
