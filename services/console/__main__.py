"""Runs the console: python -m services.console"""

from __future__ import annotations

from services.console.settings import ConsoleSettings
from services.kit import logs, metrics
from services.kit.http import serve


def main() -> None:
    logs.configure("console")
    metrics.serve("console")
    config = ConsoleSettings.from_env()
    serve("services.console.app:create_app", config.host, config.port)


if __name__ == "__main__":
    main()
