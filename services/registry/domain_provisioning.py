"""Device provisioning, in plain Python: a profile's strategy, key and secret, and how a
device's request to provision itself is judged, as ThingsBoard judges it."""

from __future__ import annotations

import hmac
import re
import secrets
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from services.registry.domain import hash_secret


class ProvisionStrategy(StrEnum):
    DISABLED = "disabled"
    ALLOW_CREATE_NEW_DEVICES = "allow_create_new_devices"
    CHECK_PRE_PROVISIONED_DEVICES = "check_pre_provisioned_devices"


class ProvisionStatus(StrEnum):
    SUCCESS = "success"
    # ThingsBoard's answer to an unknown key, a wrong secret or provisioning disabled.
    NOT_FOUND = "not_found"
    # ThingsBoard's answer to a request it cannot honour once the profile is known.
    FAILURE = "failure"


KEY = re.compile(r"^[A-Za-z0-9._-]{8,64}$")
SECRET = re.compile(r"^[A-Za-z0-9._-]{16,128}$")
# A token a device chooses for itself: long enough that guessing one is hopeless.
DEVICE_TOKEN = re.compile(r"^[A-Za-z0-9._-]{20,128}$")
GENERATED_NAME_PREFIX = "provisioned-"


@dataclass(frozen=True)
class ProfileProvisioning:
    profile_id: str
    tenant_id: str
    strategy: ProvisionStrategy
    provision_key: str
    secret_hash: str = field(repr=False)
    updated_at: datetime

    def admits(self, secret: str) -> bool:
        """Whether a request with `secret` may provision under this profile at all."""
        return self.strategy is not ProvisionStrategy.DISABLED and hmac.compare_digest(
            self.secret_hash, hash_secret(secret)
        )


class ProvisionRefused(Exception):
    """A provisioning request refused; `status` is what the device is told, the message
    why, for the log only."""

    def __init__(self, status: ProvisionStatus, why: str) -> None:
        super().__init__(why)
        self.status = status


def new_key() -> str:
    return secrets.token_urlsafe(15)


def new_secret() -> str:
    return secrets.token_urlsafe(24)


def generated_name() -> str:
    """A device name for a request that gives none, as ThingsBoard makes one up."""
    return GENERATED_NAME_PREFIX + secrets.token_hex(6)
