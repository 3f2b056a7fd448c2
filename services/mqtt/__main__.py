"""Runs the MQTT adapter: python -m services.mqtt"""

from __future__ import annotations

import asyncio
import signal

import uvloop

from services.kit import logs, metrics
from services.mqtt.backends import Backends
from services.mqtt.registry_events import RegistryEvents
from services.mqtt.server import Server
from services.mqtt.settings import MqttSettings


async def serve(settings: MqttSettings) -> None:
    backends = Backends(settings.auth_cache_seconds, settings.ingest_calls)
    backends.open()
    server = Server(settings, backends)
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stopping.set)
    events = RegistryEvents(server, backends, loop)
    await server.start()
    events.listener.start()
    reporting = asyncio.create_task(server.sessions.report_continually())
    try:
        await stopping.wait()
    finally:
        events.listener.stop()
        await server.stop()
        reporting.cancel()
        # The devices of the connections just ended are told offline at once.
        await server.sessions.report()
        await backends.close()


def main() -> None:
    logs.configure("mqtt")
    metrics.serve("mqtt")
    uvloop.run(serve(MqttSettings.from_env()))


if __name__ == "__main__":
    main()
