"""The listening socket (TCP, or TLS when a certificate is set) and the connections on it."""

from __future__ import annotations

import asyncio
import logging
import ssl

from services.mqtt.backends import Backends
from services.mqtt.connection import Connection
from services.mqtt.domain.limits import DeviceBuckets, HostBuckets
from services.mqtt.domain.refusals import SHUTTING_DOWN, Refused
from services.mqtt.sessions import Sessions
from services.mqtt.settings import MqttSettings

log = logging.getLogger(__name__)

STOP_SECONDS = 15.0


def tls_context(settings: MqttSettings) -> ssl.SSLContext | None:
    if not settings.tls:
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(settings.tls_cert_file, settings.tls_key_file)
    return context


class Server:
    def __init__(self, settings: MqttSettings, backends: Backends) -> None:
        self.settings = settings
        self.backends = backends
        self.buckets = DeviceBuckets(settings.rate_per_second, settings.rate_burst)
        self.provision_buckets = HostBuckets(settings.provision_rate_per_second, settings.provision_burst)
        self.sessions = Sessions(backends, settings.connectivity_lease_seconds)
        # Each connection and the task serving it, awaited at shutdown.
        self.connections: dict[Connection, asyncio.Task[None]] = {}
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        settings = self.settings
        self._server = await asyncio.start_server(
            self._serve,
            settings.host,
            settings.port,
            ssl=tls_context(settings),
            ssl_handshake_timeout=settings.connect_timeout_seconds if settings.tls else None,
        )
        log.info("mqtt served", extra={"port": settings.port, "tls": settings.tls})

    async def stop(self) -> None:
        """Stops accepting, then ends every connection once its answers owed are written."""
        assert self._server is not None
        self._server.close()
        for connection in self.connections:
            connection.end(Refused(SHUTTING_DOWN, "the adapter is stopping"))
        if self.connections:
            _, pending = await asyncio.wait(self.connections.values(), timeout=STOP_SECONDS)
            if pending:
                log.warning("connections still open at shutdown", extra={"count": len(pending)})

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connection = Connection(
            reader, writer, self.settings, self.backends, self.buckets, self.sessions, self.provision_buckets
        )
        self.connections[connection] = asyncio.current_task()  # type: ignore[assignment]
        try:
            await connection.serve()
        except Exception:
            # One connection's failure is its own: the others go on.
            log.exception("connection failed", extra={"peer": connection.peer})
            writer.close()
        finally:
            self.connections.pop(connection, None)
