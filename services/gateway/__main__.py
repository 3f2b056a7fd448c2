"""Runs the gateway: python -m services.gateway"""

from __future__ import annotations

import uvicorn

from services.gateway.settings import GatewaySettings
from services.kit import logs, metrics


def main() -> None:
    logs.configure("gateway")
    # Metrics on a port of their own, not on the public API's.
    metrics.serve("gateway")
    config = GatewaySettings.from_env()
    if not config.operator_token:
        raise SystemExit("set GANTRY_OPERATOR_TOKEN: the operator credential of this gateway")
    uvicorn.run(
        "services.gateway.app:create_app",
        factory=True,
        host=config.host,
        port=config.port,
        log_config=None,
        access_log=False,
        server_header=False,
        timeout_graceful_shutdown=10,
    )


if __name__ == "__main__":
    main()
