"""The gateway's own settings, read from `GANTRY_*` variables when the process starts."""

from __future__ import annotations

from dataclasses import dataclass

from services.kit.settings import bind_host, env


@dataclass(frozen=True)
class GatewaySettings:
    host: str
    port: int
    operator_token: str
    api_key_cache_seconds: float

    @classmethod
    def from_env(cls) -> GatewaySettings:
        return cls(
            host=bind_host(),
            port=int(env("GATEWAY_PORT", "8080")),
            operator_token=env("OPERATOR_TOKEN", ""),
            api_key_cache_seconds=float(env("API_KEY_CACHE_SECONDS", "5")),
        )
