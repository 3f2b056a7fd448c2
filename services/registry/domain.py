"""The registry's entities and rules, in plain Python."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from services.kit.errors import FailedPrecondition, Unauthenticated

API_KEY_PREFIX = "gnt"
DEVICE_TOKEN_PREFIX = "gdt"


# A device is online when seen within this many expected sample intervals.
ONLINE_INTERVALS = 3
DEFAULT_SAMPLE_INTERVAL = timedelta(seconds=60)


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


class Connectivity(StrEnum):
    NEVER_SEEN = "never_seen"
    ONLINE = "online"
    OFFLINE = "offline"


class ValueType(StrEnum):
    FLOAT = "float"
    INT = "int"
    BOOL = "bool"
    STRING = "string"
    ENUM = "enum"


TRANSITIONS: dict[DeviceState, frozenset[DeviceState]] = {
    DeviceState.PROVISIONED: frozenset({DeviceState.ACTIVE, DeviceState.DECOMMISSIONED}),
    DeviceState.ACTIVE: frozenset({DeviceState.SUSPENDED, DeviceState.DECOMMISSIONED}),
    DeviceState.SUSPENDED: frozenset({DeviceState.ACTIVE, DeviceState.DECOMMISSIONED}),
    DeviceState.DECOMMISSIONED: frozenset(),
}


@dataclass(frozen=True)
class Tenant:
    id: str
    name: str
    country: str
    size_class: SizeClass
    status: TenantStatus
    version: int
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class ApiKey:
    id: str
    tenant_id: str
    name: str
    scopes: tuple[str, ...]
    secret_hash: str = field(repr=False)
    created_at: datetime
    expires_at: datetime | None = None
    revoked_at: datetime | None = None

    def usable_at(self, now: datetime) -> bool:
        return self.revoked_at is None and (self.expires_at is None or now < self.expires_at)


@dataclass(frozen=True)
class Channel:
    key: str
    value_type: ValueType
    unit: str = ""
    allowed_values: tuple[str, ...] = ()
    min: float | None = None
    max: float | None = None
    sample_interval_ms: int = 0


def online_window(channels: Iterable[Channel]) -> timedelta:
    """How recently a device with these channels must have been seen to be online."""
    intervals = [c.sample_interval_ms for c in channels if c.sample_interval_ms > 0]
    interval = timedelta(milliseconds=min(intervals)) if intervals else DEFAULT_SAMPLE_INTERVAL
    return interval * ONLINE_INTERVALS


@dataclass(frozen=True)
class DeviceProfile:
    id: str
    tenant_id: str
    version: int
    latest_version: int
    name: str
    manufacturer: str
    model: str
    channels: tuple[Channel, ...]
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class Device:
    id: str
    tenant_id: str
    serial_number: str
    display_name: str
    state: DeviceState
    version: int
    profile_id: str
    profile_version: int
    site: str
    production_line: str
    labels: dict[str, str]
    attributes: dict[str, Any]
    firmware_version: str
    created_at: datetime
    updated_at: datetime
    last_seen_at: datetime | None = None
    # Connected to a protocol adapter until then, unless the adapter reports it again.
    connected_until: datetime | None = None

    def moved_to(self, state: DeviceState, now: datetime) -> Device:
        """This device in `state`; FailedPrecondition when its lifecycle forbids the move."""
        if state not in TRANSITIONS[self.state]:
            raise FailedPrecondition(f"a {self.state} device cannot become {state}")
        return replace(self, state=state, version=self.version + 1, updated_at=now)

    def connectivity(self, online_window: timedelta, now: datetime) -> Connectivity:
        if self.connected_until is not None and now < self.connected_until:
            return Connectivity.ONLINE
        if self.last_seen_at is None:
            return Connectivity.NEVER_SEEN
        return Connectivity.ONLINE if now - self.last_seen_at <= online_window else Connectivity.OFFLINE


@dataclass(frozen=True)
class DeviceCredential:
    id: str
    tenant_id: str
    device_id: str
    secret_hash: str = field(repr=False)
    created_at: datetime
    valid_from: datetime | None = None
    valid_until: datetime | None = None
    revoked_at: datetime | None = None

    def usable_at(self, now: datetime) -> bool:
        return (
            self.revoked_at is None
            and (self.valid_from is None or self.valid_from <= now)
            and (self.valid_until is None or now < self.valid_until)
        )


@dataclass(frozen=True)
class IssuedSecret:
    """A new credential's full secret, which exists only until it is shown to its owner."""

    id: str
    secret_hash: str = field(repr=False)
    presented: str = field(repr=False)


def hash_secret(secret: str) -> str:
    # Secrets are 256 random bits, so a fast hash is as safe as a slow one and
    # keeps authentication on the hot path cheap.
    return hashlib.sha256(secret.encode()).hexdigest()


def issue_secret(prefix: str, credential_id: str) -> IssuedSecret:
    """A presentable secret `<prefix>_<id hex>_<random>` for the credential `credential_id`."""
    secret = secrets.token_urlsafe(32)
    return IssuedSecret(
        credential_id, hash_secret(secret), f"{prefix}_{credential_id.replace('-', '')}_{secret}"
    )


def own_secret(token: str) -> IssuedSecret:
    """The credential of an access token a device chose for itself, kept by its hash."""
    return IssuedSecret(str(uuid.uuid4()), hash_secret(token), token)


def parse_secret(prefix: str, presented: str) -> tuple[str, str]:
    """The credential id (a UUID) and secret of a presented secret; Unauthenticated if malformed."""
    given_prefix, _, rest = presented.partition("_")
    id_hex, _, secret = rest.partition("_")
    if given_prefix != prefix or len(id_hex) != 32 or not secret or len(secret) > 128:
        raise Unauthenticated("malformed credential")
    try:
        int(id_hex, 16)
    except ValueError:
        raise Unauthenticated("malformed credential") from None
    return f"{id_hex[:8]}-{id_hex[8:12]}-{id_hex[12:16]}-{id_hex[16:20]}-{id_hex[20:]}", secret


def secret_matches(secret_hash: str, secret: str) -> bool:
    return hmac.compare_digest(secret_hash, hash_secret(secret))
