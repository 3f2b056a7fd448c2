"""The registry's entities and rules, in plain Python."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from services.kit.errors import Unauthenticated

API_KEY_PREFIX = "gnt"

SCOPES = (
    "admin",
    "devices:read",
    "devices:write",
    "telemetry:read",
    "telemetry:write",
    "marketplace:trade",
    "analytics:read",
)


class SizeClass(StrEnum):
    MICRO = "micro"
    SMALL = "small"
    MEDIUM = "medium"
    LARGE = "large"


class TenantStatus(StrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"


class DeviceState(StrEnum):
    PROVISIONED = "provisioned"
    ACTIVE = "active"
    SUSPENDED = "suspended"
    DECOMMISSIONED = "decommissioned"


@dataclass(frozen=True)
class Tenant:
    id: str
    name: str
    country: str
    size_class: SizeClass
    status: TenantStatus
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class ApiKey:
    id: str
    tenant_id: str
    name: str
    scopes: tuple[str, ...]
    secret_hash: str
    created_at: datetime
    expires_at: datetime | None = None
    revoked_at: datetime | None = None

    def usable_at(self, now: datetime) -> bool:
        return self.revoked_at is None and (self.expires_at is None or now < self.expires_at)


@dataclass(frozen=True)
class IssuedApiKey:
    """A new key and its secret, which exists only until it is shown to its owner."""

    key: ApiKey
    secret: str = field(repr=False)


def hash_secret(secret: str) -> str:
    # Secrets are 256 random bits, so a fast hash is as safe as a slow one and
    # keeps authentication on the hot path cheap.
    return hashlib.sha256(secret.encode()).hexdigest()


def issue_api_key(
    key_id: str, tenant_id: str, name: str, scopes: tuple[str, ...], now: datetime
) -> IssuedApiKey:
    secret = secrets.token_urlsafe(32)
    key = ApiKey(key_id, tenant_id, name, scopes, hash_secret(secret), now)
    return IssuedApiKey(key, f"{API_KEY_PREFIX}_{key_id.replace('-', '')}_{secret}")


def parse_api_key(presented: str) -> tuple[str, str]:
    """The key id (a UUID) and secret of a presented key; Unauthenticated if malformed."""
    prefix, _, rest = presented.partition("_")
    key_hex, _, secret = rest.partition("_")
    if prefix != API_KEY_PREFIX or len(key_hex) != 32 or not secret:
        raise Unauthenticated("malformed API key")
    try:
        int(key_hex, 16)
    except ValueError:
        raise Unauthenticated("malformed API key") from None
    return f"{key_hex[:8]}-{key_hex[8:12]}-{key_hex[12:16]}-{key_hex[16:20]}-{key_hex[20:]}", secret


def secret_matches(key: ApiKey, secret: str) -> bool:
    return hmac.compare_digest(key.secret_hash, hash_secret(secret))


@dataclass(frozen=True)
class Device:
    id: str
    tenant_id: str
    serial_number: str
    display_name: str
    state: DeviceState
    version: int
    created_at: datetime
    updated_at: datetime
