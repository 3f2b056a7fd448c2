"""The MQTT adapter's own settings, read from `GANTRY_MQTT_*` variables when the process starts."""

from __future__ import annotations

from dataclasses import dataclass

from services.kit.settings import bind_host, env


@dataclass(frozen=True)
class MqttSettings:
    host: str
    # 1884 by default: a development machine's Mosquitto holds 1883; the image and
    # Kubernetes set 1883.
    port: int
    # TLS is on when both are set (PEM files); the port then speaks only TLS.
    tls_cert_file: str
    tls_key_file: str
    # A connection that sends no CONNECT within this is closed.
    connect_timeout_seconds: float
    # The largest packet (its remaining length) a device may send, refused from its header.
    max_packet_bytes: int
    # Messages a second each device may publish on average, and at once.
    rate_per_second: float
    rate_burst: int
    # Provisioning requests a second each client address may make on average, and at once:
    # guessing a profile's secret stays hopeless.
    provision_rate_per_second: float
    provision_burst: int
    # QoS 1 publishes of a connection awaiting telemetry at once (MQTT 5's receive maximum).
    max_inflight: int
    # Telemetry calls in flight at once; messages that arrive meanwhile go in the next call.
    ingest_calls: int
    # How long a device's access token is trusted before the registry is asked again.
    auth_cache_seconds: float
    # A connected device is online in the registry this long unless reported again
    # (every third of it): the most a replica that died leaves it online.
    connectivity_lease_seconds: int

    @property
    def tls(self) -> bool:
        return bool(self.tls_cert_file and self.tls_key_file)

    @classmethod
    def from_env(cls) -> MqttSettings:
        return cls(
            host=bind_host(),
            port=int(env("MQTT_PORT", "1884")),
            tls_cert_file=env("MQTT_TLS_CERT_FILE", ""),
            tls_key_file=env("MQTT_TLS_KEY_FILE", ""),
            connect_timeout_seconds=float(env("MQTT_CONNECT_TIMEOUT_SECONDS", "10")),
            max_packet_bytes=int(env("MQTT_MAX_PACKET_BYTES", str(256 * 1024))),
            rate_per_second=float(env("MQTT_RATE_PER_SECOND", "100")),
            rate_burst=int(env("MQTT_RATE_BURST", "200")),
            provision_rate_per_second=float(env("MQTT_PROVISION_RATE_PER_SECOND", "10")),
            provision_burst=int(env("MQTT_PROVISION_BURST", "100")),
            max_inflight=int(env("MQTT_MAX_INFLIGHT", "32")),
            ingest_calls=int(env("MQTT_INGEST_CALLS", "4")),
            auth_cache_seconds=float(env("MQTT_AUTH_CACHE_SECONDS", "5")),
            connectivity_lease_seconds=int(env("MQTT_CONNECTIVITY_LEASE_SECONDS", "60")),
        )
