"""Starts every process of the platform in the foreground with prefixed logs (`make run`).

Prints the gateway URL and the operator credential first: GANTRY_OPERATOR_TOKEN when
set, otherwise a new random token for this run. Ctrl-C stops every process.
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
    os.execv(honcho, [str(honcho), "start", "--procfile", str(ROOT / "Procfile"), "--app-root", str(ROOT)])


if __name__ == "__main__":
    main()
