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
        "rabbitmq-server -detached   (where RabbitMQ is installed)",
    ),
    "postgres": (
        "PostgreSQL",
        "GANTRY_TEST_POSTGRES_URL",
        "postgresql://postgres@127.0.0.1:5432/postgres",
        "pg_ctlcluster <version> main start   (or any PostgreSQL 14+ reachable at that URL)",
    ),
    "redis": (
        "Redis",
        "GANTRY_TEST_REDIS_URL",
        "redis://127.0.0.1:6379/0",
        "redis-server --daemonize yes   (or any Redis reachable at that URL)",
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
