"""Who is calling: the operator, or a tenant's API key resolved by the registry."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from cachetools import TTLCache
from gantry.v1 import registry_pb2 as pb
from starlette.requests import Request

from services.gateway.clients import Backends, call
from services.gateway.problems import Problem

OPERATOR = "operator"
MAX_CREDENTIAL_LENGTH = 512


@dataclass(frozen=True)
class Caller:
    tenant_id: str | None
    scopes: frozenset[str]
    # The API key's id, which backends record as who acted; "" for the operator.
    key_id: str = ""

    @property
    def is_operator(self) -> bool:
        return OPERATOR in self.scopes

    def allows(self, scope: str) -> bool:
        # The operator passes every scope check but has no tenant, so tenant
        # routes still refuse it when they ask for the caller's tenant.
        return self.is_operator or scope in self.scopes or (scope != OPERATOR and "admin" in self.scopes)


@dataclass(frozen=True)
class DeviceCaller:
    """A device, identified by one of its access tokens."""

    tenant_id: str
    device_id: str


def bearer_token(request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Problem(
            401,
            "unauthenticated",
            "send an API key as 'Authorization: Bearer <key>'",
            headers={"WWW-Authenticate": 'Bearer realm="gantry"'},
        )
    if len(token) > MAX_CREDENTIAL_LENGTH:
        raise Problem(401, "unauthenticated", "malformed API key", headers={"WWW-Authenticate": "Bearer"})
    return token.strip()


class Authenticator:
    """Resolves bearer tokens, caching each answer briefly so that a revoked key
    stops working within `cache_seconds` without a registry call per request."""

    def __init__(self, backends: Backends, operator_token: str, cache_seconds: float) -> None:
        self._backends = backends
        self._operator_token = operator_token
        # False records a rejected key, so that guessing keys costs no registry calls.
        self._cache: TTLCache[str, Caller | DeviceCaller | bool] = TTLCache(
            maxsize=100_000, ttl=cache_seconds
        )

    async def caller(self, request: Request) -> Caller:
        token = bearer_token(request)
        if self._operator_token and hmac.compare_digest(token.encode(), self._operator_token.encode()):
            return Caller(None, frozenset({OPERATOR}))
        known = await self._remembered("key", token, self._resolve_key)
        if not isinstance(known, Caller):
            raise Problem(
                401,
                "unauthenticated",
                "unknown, revoked or expired API key",
                headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
            )
        return known

    async def device(self, token: str) -> DeviceCaller:
        """The device of an access token; 401 for an unknown, revoked or expired one."""
        known = (
            await self._remembered("device", token, self._resolve_device)
            if len(token) <= MAX_CREDENTIAL_LENGTH
            else False
        )
        if not isinstance(known, DeviceCaller):
            raise Problem(401, "unauthenticated", "unknown, revoked or expired device access token")
        return known

    async def _remembered(
        self, kind: str, token: str, resolve: Callable[[str], Awaitable[Caller | DeviceCaller | None]]
    ) -> Caller | DeviceCaller | bool:
        cache_key = hashlib.sha256(f"{kind}:{token}".encode()).hexdigest()
        if (known := self._cache.get(cache_key)) is None:
            try:
                known = await resolve(token)
            except Problem as problem:
                if problem.status != 401:
                    raise
                known = False
            self._cache[cache_key] = known
        return known

    async def _resolve_key(self, token: str) -> Caller:
        identity = await call(
            self._backends.registry.AuthenticateApiKey, pb.AuthenticateApiKeyRequest(api_key=token)
        )
        return Caller(identity.tenant_id, frozenset(identity.scopes), identity.api_key_id)

    async def _resolve_device(self, token: str) -> DeviceCaller:
        request = pb.AuthenticateDeviceRequest(access_token=token)
        identity = await call(self._backends.registry.AuthenticateDevice, request)
        return DeviceCaller(identity.tenant_id, identity.device_id)
