"""Starts every process of the platform in the foreground with prefixed logs (`make run`).

Prints the gateway URL and the operator credential first: GANTRY_OPERATOR_TOKEN when
set, otherwise a new random token for this run. Unless SIMULATE=0, a simulated factory
(tools/simulate.py) streams telemetry beside them. Ctrl-C stops every process.
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
    """The Procfile, with the simulated factory as one more process unless SIMULATE=0."""
    if os.environ.get("SIMULATE", "1") == "0":
        return ROOT / "Procfile"
    with_factory = ROOT / os.environ.get("GANTRY_DATA_DIR", "var") / "Procfile.run"
    with_factory.parent.mkdir(parents=True, exist_ok=True)
    with_factory.write_text((ROOT / "Procfile").read_text() + "factory: python tools/simulate.py\n")
    return with_factory


if __name__ == "__main__":
    main()
