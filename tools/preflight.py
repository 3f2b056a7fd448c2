"""Checks that the platform's backends are reachable, and says how to start them if not.

Usage: python tools/preflight.py [amqp] [postgres] [redis]
"""

from __future__ import annotations

import os
import socket
import sys
from urllib.parse import urlparse

HOW_TO_START = {
    "amqp": (
        "RabbitMQ",
        "GANTRY_AMQP_URL",
        "amqp://guest:guest@127.0.0.1:5672/",
        "docker compose up -d rabbitmq   (or, where RabbitMQ is installed: rabbitmq-server -detached)",
    ),
    "postgres": (
        "PostgreSQL",
        "GANTRY_TEST_POSTGRES_URL",
        "postgresql://postgres@127.0.0.1:5432/postgres",
        "docker compose up -d postgres   (or: pg_ctlcluster <version> main start)",
    ),
    "redis": (
        "Redis",
        "GANTRY_TEST_REDIS_URL",
        "redis://127.0.0.1:6379/0",
        "docker compose up -d redis   (or: redis-server --daemonize yes)",
    ),
}
DEFAULT_PORTS = {"amqp": 5672, "postgres": 5432, "redis": 6379}


def reachable(url: str, default_port: int) -> bool:
    parsed = urlparse(url)
    try:
        with socket.create_connection(
            (parsed.hostname or "127.0.0.1", parsed.port or default_port), timeout=3
        ):
            return True
    except OSError:
        return False


def main(names: list[str]) -> int:
    failed = False
    for name in names:
        product, variable, default, command = HOW_TO_START[name]
        url = os.environ.get(variable) or default
        if not reachable(url, DEFAULT_PORTS[name]):
            failed = True
            print(
                f"{product} is not reachable at {urlparse(url).netloc} (set by {variable}).", file=sys.stderr
            )
            print(f"  Start one with: {command}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
