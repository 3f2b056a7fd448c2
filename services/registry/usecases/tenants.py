"""Use cases of tenants (the operator's) and of their API keys: lifecycle and authentication."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from marshmallow import Schema, fields, validate

from services.kit.db import UnitOfWork
from services.kit.errors import FieldViolation, InvalidArgument, NotFound, Unauthenticated, VersionMismatch
from services.kit.events import Event, new_event
from services.kit.pagination import decode_cursor, encode_cursor, page_size, time_and_id
from services.kit.scopes import SCOPES
from services.kit.validation import load, require_uuid, text
from services.registry.domain import (
    API_KEY_PREFIX,
    ApiKey,
    IssuedSecret,
    SizeClass,
    Tenant,
    TenantStatus,
    issue_secret,
)
from services.registry.queries import tenant_exists
from services.registry.queries import tenants as queries
from services.registry.usecases import Clock, UnitOfWorkFactory, utc_now
from services.registry.usecases.cache import EvictingCache, Remembered, parsed, verified

COUNTRY = r"^[A-Z]{2}\Z"
TENANT_FIELDS = ("name", "country", "size_class", "status")
FIRST_KEY_NAME = "admin"
# One answer for every failure, so that a caller learns nothing of which check failed.
REFUSED = "invalid API key"


class TenantSchema(Schema):
    name = text(200)
    country = fields.String(
        required=True, validate=validate.Regexp(COUNTRY, error="an ISO 3166-1 alpha-2 code, such as CN")
    )
    size_class = fields.Enum(
        SizeClass, by_value=True, required=True, error_messages={"null": "name a size class"}
    )
    status = fields.Enum(TenantStatus, by_value=True, required=True, error_messages={"null": "name a status"})


class ApiKeySchema(Schema):
    name = text(200)


@dataclass(frozen=True)
class ApiKeyIdentity:
    tenant_id: str
    api_key_id: str
    scopes: tuple[str, ...]
    expires_at: datetime | None


class Tenancy:
    def __init__(
        self, unit_of_work: UnitOfWorkFactory, clock: Clock = utc_now, cache: EvictingCache | None = None
    ) -> None:
        self._unit_of_work = unit_of_work
        self._clock = clock
        # Without a cache of its own to keep fresh, nothing is served from memory.
        self._cache = cache if cache is not None else EvictingCache()

    def create(self, request: dict[str, Any]) -> tuple[Tenant, IssuedSecret]:
        """A new active tenant and its first API key, with the scope `admin`."""
        command = load(TenantSchema(exclude=("status",)), request)
        with self._unit_of_work() as uow:
            tenant, secret = add_new_tenant(uow, command, self._clock())
            uow.commit()
        return tenant, secret

    def get(self, tenant_id: str) -> Tenant:
        tenant_id = require_uuid(tenant_id, "tenant_id")
        with self._unit_of_work(read_only=True) as uow:
            tenant = queries.find_tenant(uow.connection, tenant_id)
        if tenant is None:
            raise NotFound("tenant not found")
        return tenant

    def list(
        self, country: str, status: TenantStatus | None, size: int, cursor: str
    ) -> tuple[list[Tenant], str, int]:
        """A page of tenants by creation, the cursor of the next page, and how many match."""
        if country:
            load(TenantSchema(only=("country",)), {"country": country})
        limit = page_size(size)
        listing = {"list": "tenants", "country": country, "status": str(status or "")}
        after = time_and_id(decode_cursor(cursor, listing))
        with self._unit_of_work(read_only=True) as uow:
            found = queries.list_tenants(uow.connection, country, status, after, limit + 1)
            total = queries.count_tenants(uow.connection, country, status)
        return found[:limit], _next_cursor(found, limit, listing), total

    def update(
        self, tenant_id: str, expected_version: int, paths: list[str], request: dict[str, Any]
    ) -> Tenant:
        tenant_id = require_uuid(tenant_id, "tenant_id")
        if not paths or set(paths) - set(TENANT_FIELDS):
            raise InvalidArgument([FieldViolation("update_mask", f"name any of {', '.join(TENANT_FIELDS)}")])
        if expected_version < 1:
            raise InvalidArgument(
                [FieldViolation("expected_version", "name the version you read (1 or more)")]
            )
        changes = load(TenantSchema(only=paths), {path: request[path] for path in paths})
        with self._unit_of_work() as uow:
            current = queries.find_tenant(uow.connection, tenant_id)
            if current is None:
                raise NotFound("tenant not found")
            if current.version != expected_version:
                raise VersionMismatch(f"tenant is at version {current.version}, not {expected_version}")
            updated = replace(current, **changes, version=current.version + 1, updated_at=self._clock())
            if not queries.save_tenant(uow.connection, updated, expected_version):
                raise VersionMismatch("tenant changed meanwhile; read it again")
            uow.emit(_tenant_event("tenant.updated", updated))
            uow.commit()
        self._cache.forget(tenant_id)
        return updated

    def create_api_key(self, tenant_id: str, request: dict[str, Any]) -> tuple[ApiKey, IssuedSecret]:
        """A new key of the tenant; `request` has its name, scopes and optional expiry."""
        tenant_id = require_uuid(tenant_id, "tenant_id")
        now = self._clock()
        name, scopes = _key_command(request, now)
        key, secret = _new_key(tenant_id, name, scopes, request["expires_at"], now)
        with self._unit_of_work() as uow:
            if not tenant_exists(uow.connection, tenant_id):
                raise NotFound("tenant not found")
            queries.add_api_key(uow.connection, key)
            uow.commit()
        return key, secret

    def list_api_keys(self, tenant_id: str, size: int, cursor: str) -> tuple[list[ApiKey], str, int]:
        tenant_id = require_uuid(tenant_id, "tenant_id")
        limit = page_size(size)
        listing = {"list": "api_keys", "tenant": tenant_id}
        after = time_and_id(decode_cursor(cursor, listing))
        with self._unit_of_work(read_only=True) as uow:
            if not tenant_exists(uow.connection, tenant_id):
                raise NotFound("tenant not found")
            found = queries.list_api_keys(uow.connection, tenant_id, after, limit + 1)
            total = queries.count_api_keys(uow.connection, tenant_id)
        return found[:limit], _next_cursor(found, limit, listing), total

    def revoke_api_key(self, tenant_id: str, key_id: str) -> ApiKey:
        """Revokes a key; a key revoked already stays as it was."""
        tenant_id, key_id = require_uuid(tenant_id, "tenant_id"), require_uuid(key_id, "api_key_id")
        now = self._clock()
        with self._unit_of_work() as uow:
            if queries.revoke_api_key(uow.connection, tenant_id, key_id, now):
                uow.emit(new_event("api_key.revoked", tenant_id, {"api_key_id": key_id}))
            key = queries.find_tenant_api_key(uow.connection, tenant_id, key_id)
            if key is None:
                raise NotFound("API key not found")
            uow.commit()
        self._cache.forget(key_id)
        return key

    def authenticate_api_key(self, presented: str) -> ApiKeyIdentity:
        """The tenant and scopes of a usable key of an active tenant; Unauthenticated otherwise."""
        key_id, secret = parsed(API_KEY_PREFIX, presented, REFUSED)
        now = self._clock()

        def look_up() -> Remembered[ApiKeyIdentity]:
            with self._unit_of_work(read_only=True) as uow:
                found = queries.find_api_key(uow.connection, key_id)
            key, tenant_status = found or (None, None)
            matched = verified(key.secret_hash if key else None, secret)
            if (
                key is None
                or not matched
                or not key.usable_at(now)
                or tenant_status is not TenantStatus.ACTIVE
            ):
                raise Unauthenticated(REFUSED)
            identity = ApiKeyIdentity(key.tenant_id, key.id, key.scopes, key.expires_at)
            return Remembered(identity, (key.tenant_id, key.id), key.expires_at)

        return self._cache.remembered(presented, ApiKeyIdentity, now, look_up)


def add_new_tenant(uow: UnitOfWork, command: dict[str, Any], now: datetime) -> tuple[Tenant, IssuedSecret]:
    """Adds an active tenant of a checked `command`, its first API key (scope `admin`) and
    its `tenant.created` event to a unit of work, which the caller commits."""
    tenant = Tenant(
        str(uuid.uuid4()), **command, status=TenantStatus.ACTIVE, version=1, created_at=now, updated_at=now
    )
    key, secret = _new_key(tenant.id, FIRST_KEY_NAME, ("admin",), None, now)
    queries.add_tenant(uow.connection, tenant)
    queries.add_api_key(uow.connection, key)
    uow.emit(_tenant_event("tenant.created", tenant))
    return tenant, secret


def _new_key(
    tenant_id: str, name: str, scopes: tuple[str, ...], expires_at: datetime | None, now: datetime
) -> tuple[ApiKey, IssuedSecret]:
    secret = issue_secret(API_KEY_PREFIX, str(uuid.uuid4()))
    return ApiKey(secret.id, tenant_id, name, scopes, secret.secret_hash, now, expires_at), secret


def _key_command(request: dict[str, Any], now: datetime) -> tuple[str, tuple[str, ...]]:
    """The name and scopes (in canonical order) of a new key; every violation at once."""
    violations = _scope_violations(request["scopes"])
    if request["expires_at"] is not None and request["expires_at"] <= now:
        violations.append(FieldViolation("expires_at", "must be in the future"))
    try:
        name = load(ApiKeySchema(), {"name": request["name"]})["name"]
    except InvalidArgument as error:
        violations = error.violations + violations
    if violations:
        raise InvalidArgument(violations)
    return name, tuple(scope for scope in SCOPES if scope in request["scopes"])


def _scope_violations(scopes: list[str]) -> list[FieldViolation]:
    if not 1 <= len(scopes) <= len(SCOPES):
        return [FieldViolation("scopes", f"between 1 and {len(SCOPES)} of: {', '.join(SCOPES)}")]
    violations = [
        FieldViolation(f"scopes[{i}]", f"not a scope; one of: {', '.join(SCOPES)}")
        for i, scope in enumerate(scopes)
        if scope not in SCOPES
    ]
    violations += [
        FieldViolation(f"scopes[{i}]", "listed twice")
        for i, scope in enumerate(scopes)
        if scope in scopes[:i]
    ]
    return violations


def _tenant_event(event_type: str, tenant: Tenant) -> Event:
    data: dict[str, Any] = {
        "name": tenant.name,
        "country": tenant.country,
        "size_class": tenant.size_class.value,
    }
    if event_type == "tenant.updated":
        data |= {"status": tenant.status.value, "version": tenant.version}
    return new_event(event_type, tenant.id, data)


def _next_cursor(found: list[Tenant] | list[ApiKey], limit: int, listing: dict[str, Any]) -> str:
    if len(found) <= limit:
        return ""
    last = found[limit - 1]
    return encode_cursor([last.created_at.isoformat(), last.id], listing)
