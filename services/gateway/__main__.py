"""Runs the gateway: python -m services.gateway"""

from __future__ import annotations

from services.gateway.settings import GatewaySettings
from services.kit import logs, metrics
from services.kit.http import serve


def main() -> None:
    logs.configure("gateway")
    # Metrics on a port of their own, not on the public API's.
    metrics.serve("gateway")
    config = GatewaySettings.from_env()
    if not config.operator_token:
        raise SystemExit("set GANTRY_OPERATOR_TOKEN: the operator credential of this gateway")
    serve("services.gateway.app:create_app", config.host, config.port)


if __name__ == "__main__":
    main()
