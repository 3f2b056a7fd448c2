"""Use cases of device provisioning: a profile's settings, and devices that provision
themselves with the profile's key and secret, judged as ThingsBoard judges them."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.exc import IntegrityError

from services.kit.errors import AlreadyExists, FieldViolation, GantryError, InvalidArgument, NotFound
from services.kit.validation import require_uuid
from services.registry.domain import (
    DEVICE_TOKEN_PREFIX,
    DeviceCredential,
    DeviceState,
    IssuedSecret,
    hash_secret,
    issue_secret,
    own_secret,
)
from services.registry.domain_provisioning import (
    DEVICE_TOKEN,
    KEY,
    SECRET,
    ProfileProvisioning,
    ProvisionRefused,
    ProvisionStatus,
    ProvisionStrategy,
    generated_name,
    new_key,
    new_secret,
)
from services.registry.queries import credentials as credential_queries
from services.registry.queries import profiles as profile_queries
from services.registry.queries import provisioning as queries
from services.registry.queries.devices import devices_by_serial
from services.registry.usecases import Clock, UnitOfWorkFactory, utc_now
from services.registry.usecases.device_input import SERIAL
from services.registry.usecases.devices import Devices

_SERIAL = re.compile(SERIAL)
NOT_FOUND, FAILURE = ProvisionStatus.NOT_FOUND, ProvisionStatus.FAILURE


@dataclass(frozen=True)
class Provisioned:
    tenant_id: str
    device_id: str
    access_token: str


class Provisioning:
    def __init__(self, unit_of_work: UnitOfWorkFactory, devices: Devices, clock: Clock = utc_now) -> None:
        self._unit_of_work = unit_of_work
        self._devices = devices
        self._clock = clock

    def configure(
        self, tenant_id: str, profile_id: str, strategy: ProvisionStrategy, key: str, secret: str
    ) -> tuple[ProfileProvisioning, str]:
        """Sets a profile's provisioning; the secret (new unless given) is answered only here."""
        tenant_id, profile_id = require_uuid(tenant_id, "tenant_id"), require_uuid(profile_id, "profile_id")
        key, secret = key or new_key(), secret or new_secret()
        _check_settings(key, secret)
        settings = ProfileProvisioning(
            profile_id, tenant_id, strategy, key, hash_secret(secret), self._clock()
        )
        with self._unit_of_work() as uow:
            if not profile_queries.latest_versions(uow.connection, tenant_id, [profile_id]):
                raise NotFound("profile not found")
            other = queries.settings_of_key(uow.connection, key)
            if other is not None and other.profile_id != profile_id:
                raise AlreadyExists("another profile has this provision key")
            try:
                queries.put_settings(uow.connection, settings)
            except IntegrityError:
                raise AlreadyExists("another profile has this provision key") from None
            uow.commit()
        return settings, secret

    def get(self, tenant_id: str, profile_id: str) -> ProfileProvisioning:
        """A profile's settings; disabled, with no key, when never set."""
        tenant_id, profile_id = require_uuid(tenant_id, "tenant_id"), require_uuid(profile_id, "profile_id")
        with self._unit_of_work(read_only=True) as uow:
            if not profile_queries.latest_versions(uow.connection, tenant_id, [profile_id]):
                raise NotFound("profile not found")
            found = queries.find_settings(uow.connection, tenant_id, profile_id)
        return found or ProfileProvisioning(
            profile_id, tenant_id, ProvisionStrategy.DISABLED, "", "", self._clock()
        )

    def provision(self, name: str, key: str, secret: str, token: str) -> Provisioned:
        """A device provisioned under the profile of `key`; ProvisionRefused otherwise."""
        name = name.strip()
        if not key or not secret:
            raise ProvisionRefused(NOT_FOUND, "no provision key or secret")
        with self._unit_of_work(read_only=True) as uow:
            settings = queries.settings_of_key(uow.connection, key)
        if settings is None or not settings.admits(secret):
            raise ProvisionRefused(NOT_FOUND, "an unknown key, a wrong secret, or provisioning disabled")
        if name and not _SERIAL.match(name):
            raise ProvisionRefused(FAILURE, "a device name that is not a serial number")
        if token:
            self._check_token(token)
        if settings.strategy is ProvisionStrategy.ALLOW_CREATE_NEW_DEVICES:
            return self._create(settings, name or generated_name(), token)
        return self._claim(settings, name, token)

    def _check_token(self, token: str) -> None:
        if not DEVICE_TOKEN.match(token) or token.startswith(DEVICE_TOKEN_PREFIX + "_"):
            raise ProvisionRefused(
                FAILURE, "an access token of 20-128 letters, digits or ._- not starting gdt_"
            )
        with self._unit_of_work(read_only=True) as uow:
            if credential_queries.find_holder_by_hash(uow.connection, hash_secret(token)) is not None:
                raise ProvisionRefused(FAILURE, "an access token another device has")

    def _create(self, settings: ProfileProvisioning, name: str, token: str) -> Provisioned:
        spec = {"serial_number": name, "display_name": name, "profile_id": settings.profile_id}
        try:
            [(device, issued)] = self._devices.register(
                settings.tenant_id, [spec], bulk=False, own_token=token
            )
        except AlreadyExists:
            raise ProvisionRefused(
                FAILURE, f"a device named {name} exists and cannot provision again"
            ) from None
        except GantryError as error:
            raise ProvisionRefused(FAILURE, error.message) from None
        return Provisioned(device.tenant_id, device.id, issued.presented)

    def _claim(self, settings: ProfileProvisioning, name: str, token: str) -> Provisioned:
        """A device registered beforehand under the profile, provisioned once, with a new
        access token (or the one it chose)."""
        now = self._clock()
        issued = own_secret(token) if token else issue_secret(DEVICE_TOKEN_PREFIX, str(uuid.uuid4()))
        with self._unit_of_work() as uow:
            device = devices_by_serial(uow.connection, settings.tenant_id, [name]).get(name) if name else None
            if device is None or device.profile_id != settings.profile_id:
                raise ProvisionRefused(FAILURE, f"no device {name!r} was registered under the profile")
            if device.state is DeviceState.DECOMMISSIONED:
                raise ProvisionRefused(FAILURE, "a decommissioned device")
            try:
                claimed = queries.claim_device(uow.connection, device.id, now)
            except IntegrityError:
                claimed = False
            if not claimed:
                raise ProvisionRefused(FAILURE, f"device {name} was provisioned already")
            try:
                credential_queries.add_credentials(
                    uow.connection, [_credential(device.tenant_id, device.id, issued, now)]
                )
            except IntegrityError:
                raise ProvisionRefused(FAILURE, "an access token another device took meanwhile") from None
            uow.commit()
        return Provisioned(device.tenant_id, device.id, issued.presented)


def _credential(tenant_id: str, device_id: str, issued: IssuedSecret, now: datetime) -> DeviceCredential:
    return DeviceCredential(issued.id, tenant_id, device_id, issued.secret_hash, now)


def _check_settings(key: str, secret: str) -> None:
    violations = []
    if not KEY.match(key):
        violations.append(FieldViolation("provision_key", "8-64 letters, digits or ._-"))
    if not SECRET.match(secret):
        violations.append(FieldViolation("provision_secret", "16-128 letters, digits or ._-"))
    if violations:
        raise InvalidArgument(violations)
