"""How every gateway route runs: authenticate, check scope, read and validate the body,
call the handler, answer in JSON or problem+json."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import orjson
from google.protobuf import field_mask_pb2
from google.protobuf.message import Message
from marshmallow import Schema, ValidationError, fields
from starlette.requests import Request
from starlette.responses import Response

from services.gateway.auth import Authenticator, Caller, DeviceCaller, bearer_token
from services.gateway.clients import Backends
from services.gateway.idempotency import Idempotency, fingerprint, offered_key
from services.gateway.problems import Problem
from services.gateway.protojson import to_message
from services.gateway.ratelimit import RateLimiting, Verdict
from services.kit.errors import InvalidArgument

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 1024 * 1024
JSON = "application/json"
CSV = "text/csv"
_INTERNAL = (
    "the gateway failed while handling this request, which may have taken effect; check before "
    "sending it again, and quote the request id"
)


def _needs_tenant_key() -> Problem:
    return Problem(403, "forbidden", "this route needs a tenant's API key")


@dataclass
class Call:
    """One HTTP request as a handler sees it."""

    request: Request
    caller: Caller | None
    backends: Backends
    body: dict[str, Any] = field(default_factory=dict)
    query: dict[str, Any] = field(default_factory=dict)
    # The body as sent, for routes that forward it unparsed.
    raw: bytes = b""
    # The device whose access token is in the path, for device routes.
    device: DeviceCaller | None = None

    @property
    def tenant_id(self) -> str:
        if self.caller is None or self.caller.tenant_id is None:
            raise _needs_tenant_key()
        return self.caller.tenant_id

    @property
    def actor(self) -> str:
        """Who acts, as a backend records it on what it changes: the caller's API key."""
        if self.caller is None or not self.caller.key_id:
            raise _needs_tenant_key()
        return self.caller.key_id

    def path(self, name: str) -> str:
        return self.request.path_params[name]

    def idempotency_key(self) -> str:
        """The Idempotency-Key a keyed route requires."""
        key = offered_key(self.request)
        if key is None:
            raise Problem(
                400, "idempotency-key-required", "this route moves money: send an Idempotency-Key header"
            )
        return key

    async def expected_version(self, current: Version) -> int:
        """The version named by If-Match (an ETag `"<version>"`); for `*`, which matches
        any current version (RFC 9110), the `current` one, read just before the change, so
        that only a change made in between answers 412."""
        header = self.request.headers.get("if-match", "").strip()
        if not header:
            raise Problem(
                428, "precondition-required", 'send If-Match with the ETag you read, e.g. If-Match: "3"'
            )
        if header == "*":
            return await current(self)
        tag = header.removeprefix("W/").strip('"')
        if not tag.isdigit() or not 0 < int(tag) < 2**63:
            raise Problem(412, "version-mismatch", "If-Match names no version of this resource")
        return int(tag)

    async def put_version(self, current: Version) -> int:
        """The version a PUT that creates or replaces names: 0, to create, for
        `If-None-Match: *` (RFC 9110: only if nothing is there); else If-Match's."""
        if "if-match" not in self.request.headers and self.request.headers.get("if-none-match") == "*":
            return 0
        if not self.request.headers.get("if-match", "").strip():
            raise Problem(
                428,
                "precondition-required",
                "send If-None-Match: * to create it, or If-Match with the ETag you read to replace it",
            )
        return await self.expected_version(current)

    async def change(self, kind: type[Message], partial: bool, current: Version, **fixed: Any) -> Any:
        """The request of a change, from the body, to the version If-Match names; a partial
        update lists the body's fields in its update mask."""
        mask = {"update_mask": field_mask_pb2.FieldMask(paths=sorted(self.body))} if partial else {}
        version = await self.expected_version(current)
        return to_message(kind, self.body, expected_version=version, **mask, **fixed)


# How a route reads the current version of the resource it changes, for `If-Match: *`.
Version = Callable[[Call], Awaitable[int]]
Handler = Callable[[Call], Awaitable[Response]]


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str
    handler: Handler
    summary: str
    tag: str
    scope: str | None  # None: no credential needed
    response: type[Schema] | None
    status: int = 200
    body: type[Schema] | None = None
    query: type[Schema] | None = None
    errors: tuple[int, ...] = ()
    # Routes of one tenant's data refuse the operator, who belongs to no tenant.
    for_operator: bool = False
    # Changes that need If-Match with the ETag of the version they change.
    precondition: bool = False
    # A PUT that creates (201) with If-None-Match: * or replaces with If-Match.
    upsert: bool = False
    # Forwarded as sent (`Call.raw`): the body schema then only documents it.
    raw_body: bool = False
    # Other shapes a body forwarded as sent may take, documented with `body` as anyOf.
    other_bodies: tuple[type[Schema], ...] = ()
    max_body_bytes: int = MAX_BODY_BYTES
    # What a success answers in: JSON by the response schema, or another media type as text.
    media_type: str = JSON
    # Authenticated by the device access token in the path, not by an API key.
    device_token: bool = False
    # Without a credential (a device provisioning itself): limited per client address, with
    # the device quota.
    limit_by_address: bool = False
    # Moves money or places an order: the backend keeps each Idempotency-Key's first
    # result itself, so the header is required and forwarded (`Call.idempotency_key`).
    keyed: bool = False

    @property
    def creates(self) -> bool:
        """Whether the gateway keeps the first answer to an Idempotency-Key: a POST that
        creates something, unless its backend keeps them."""
        return self.method == "POST" and self.status == 201 and not self.keyed


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(data), status, headers, media_type=JSON)


def etag(version: int) -> dict[str, str]:
    """The ETag header of a resource at `version`, which If-Match sends back."""
    return {"ETag": f'"{version}"'}


async def read_raw(request: Request, limit: int) -> bytes:
    """The JSON body as sent, refused when of another media type or over `limit` bytes."""
    if request.headers.get("content-type", "").split(";")[0].strip().lower() != JSON:
        raise Problem(415, "unsupported-media-type", f"send the body as {JSON}")
    too_large = Problem(413, "body-too-large", f"the body may hold at most {limit} bytes")
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise too_large
    raw = bytearray()
    async for chunk in request.stream():
        raw += chunk
        if len(raw) > limit:
            raise too_large
    return bytes(raw)


def malformed_json(what: str) -> Problem:
    """The answer to a body that is not a JSON object: `what` it is instead."""
    if what.startswith("not valid JSON"):
        return Problem(400, "malformed-json", f"the body is {what}")
    return Problem(400, "malformed-json", "the body must be a JSON object")


def parse_body(raw: bytes, schema: Schema) -> dict[str, Any]:
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as error:
        raise malformed_json(f"not valid JSON: {error}") from None
    if not isinstance(data, dict):
        raise malformed_json("not a JSON object")
    try:
        return schema.load(data)
    except ValidationError as error:
        violations = InvalidArgument.from_messages(error.messages_dict).violations
        raise Problem(422, "validation-error", "the body has invalid fields", violations) from None


def read_query(request: Request, schema: Schema) -> dict[str, Any]:
    """The query string as the schema reads it; list fields take every repetition."""
    params = request.query_params
    by_parameter = {field.data_key or name: field for name, field in schema.fields.items()}
    raw = {
        name: params.getlist(name) if isinstance(by_parameter.get(name), fields.List) else params[name]
        for name in params
    }
    try:
        return schema.load(raw)
    except ValidationError as error:
        violations = InvalidArgument.from_messages(error.messages_dict).violations
        raise Problem(422, "validation-error", "the query has invalid parameters", violations) from None


@dataclass(frozen=True)
class Guards:
    """What every request passes before its handler runs, and what keeps it from running twice."""

    auth: Authenticator
    limits: RateLimiting
    idempotency: Idempotency


def starlette_handler(endpoint: Endpoint, backends: Backends, guards: Guards) -> Callable:
    async def handle(request: Request) -> Response:
        try:
            call, quota = await _admitted(endpoint, Call(request, None, backends), guards)
            response = await _answered(endpoint, call, guards.idempotency)
        except Problem as problem:
            return _as_partners_see_it(endpoint, problem).response()
        if quota is not None:
            response.headers.update(quota.headers())
        return response

    handle.__name__ = endpoint.handler.__name__
    return handle


def _as_partners_see_it(endpoint: Endpoint, problem: Problem) -> Problem:
    """One answer for one mistake on every route: a body that is not a JSON object is
    `malformed-json` whether the gateway read it or a backend did (routes forwarding
    the body unparsed, so that it is parsed once); ThingsBoard's device API answers
    every other bad payload with 400."""
    whole_body = [error for error in problem.errors if error.field == "body"]
    if problem.status == 422 and whole_body:
        return malformed_json(whole_body[0].description)
    if endpoint.device_token and problem.status == 422:
        return Problem(400, "bad-payload", problem.detail, problem.errors)
    return problem


async def _admitted(endpoint: Endpoint, call: Call, guards: Guards) -> tuple[Call, Verdict | None]:
    """The call once its credential, rate limit, scope, query and body are checked."""
    request, quota = call.request, None
    if endpoint.scope is not None:
        call.caller = caller = await guards.auth.caller(request)
        request.state.tenant_id = caller.tenant_id
        if not caller.is_operator:
            quota = await guards.limits.take("key", bearer_token(request))
        if not caller.allows(endpoint.scope):
            raise Problem(403, "insufficient-scope", f"this route needs the scope {endpoint.scope!r}")
        if caller.is_operator and not endpoint.for_operator:
            raise _needs_tenant_key()
    elif endpoint.limit_by_address:
        address = request.client.host if request.client else ""
        quota = await guards.limits.take("device", f"address {address}")
    if endpoint.device_token:
        token = request.path_params["device_token"]
        call.device = await guards.auth.device(token)
        request.state.tenant_id = call.device.tenant_id
        quota = await guards.limits.take("device", token)
    if endpoint.query is not None:
        call.query = read_query(request, endpoint.query())
    if endpoint.body is not None:
        call.raw = await read_raw(request, endpoint.max_body_bytes)
        if not endpoint.raw_body:
            call.body = parse_body(call.raw, endpoint.body())
    return call, quota


async def _answered(endpoint: Endpoint, call: Call, idempotency: Idempotency) -> Response:
    """The handler's answer; for a creating POST with an Idempotency-Key, the first answer
    to that key and request."""
    slot = idempotency.slot_of(call.request, bearer_token(call.request)) if endpoint.creates else None
    if slot is None:
        return await endpoint.handler(call)
    same = fingerprint(call.request, call.raw)
    if (replayed := await idempotency.begin(slot, same)) is not None:
        return replayed
    kept: Response | None = None
    try:
        response = kept = await endpoint.handler(call)
    except Problem as problem:
        response = problem.response()
        kept = None if problem.no_effect else response
    except Exception:
        # The handler may have failed after its backend acted: answered and kept as any 5xx.
        log.exception("unhandled error in a creating request")
        response = kept = Problem(500, "internal-error", _INTERNAL).response()
    finally:
        # Cancelled (the gateway stopping), nothing is kept: the claim is freed, as a
        # gateway that died would leave it to expire.
        await idempotency.end(slot, same, kept)
    return response
