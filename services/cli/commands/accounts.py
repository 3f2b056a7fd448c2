"""The operator's calls: `gantry tenants list|create|suspend|resume`, `gantry deposit`,
`gantry retention get|set`."""

from __future__ import annotations

import argparse
import uuid

from gantry.v1 import common_pb2, marketplace_pb2, registry_pb2, telemetry_pb2
from google.protobuf.field_mask_pb2 import FieldMask

from services.cli.backends import as_dict, call, stub
from services.cli.output import Outcome, Table, record

TENANT_COLUMNS = ("id", "name", "country", "size_class", "status", "created_at", "version")
SIZES = ("micro", "small", "medium", "large")
STATUSES = ("active", "suspended")
PAGE_SIZE = 100


def register(commands: argparse._SubParsersAction) -> None:
    _register_tenants(commands)
    deposit = commands.add_parser(
        "deposit",
        help="credit money that came in to a tenant's available account",
        description="Records a deposit, as the operator: money received for a tenant, in minor units "
        "(cents, fen). Repeating it with the same --idempotency-key changes nothing.",
    )
    deposit.add_argument("tenant_id")
    deposit.add_argument("amount", type=int, help="in minor units of the currency: 12050 is 120.50")
    deposit.add_argument("--currency", required=True, help="ISO 4217 code, e.g. CNY")
    deposit.add_argument("--reason", required=True, help="why, for the ledger")
    deposit.add_argument("--idempotency-key", default="", help="a new one when not given (printed)")
    deposit.set_defaults(run=run_deposit)
    retention = commands.add_parser("retention", help="how long a tenant's readings are kept")
    actions = retention.add_subparsers(dest="action", required=True, metavar="ACTION")
    get = actions.add_parser("get", help="a tenant's retention in days")
    get.add_argument("tenant_id")
    get.set_defaults(run=run_retention_get)
    put = actions.add_parser("set", help="a tenant's retention for readings received from now on")
    put.add_argument("tenant_id")
    put.add_argument("days", type=int, help="30, 90, 365, 1095 or 3650")
    put.set_defaults(run=run_retention_set)


def _register_tenants(commands: argparse._SubParsersAction) -> None:
    tenants = commands.add_parser("tenants", help="list, create, suspend or resume tenants")
    actions = tenants.add_subparsers(dest="action", required=True, metavar="ACTION")
    listing = actions.add_parser("list", help="the tenants, filtered")
    listing.add_argument("--country", default="", help="ISO 3166-1 alpha-2 code")
    listing.add_argument("--status", choices=STATUSES)
    listing.add_argument("--limit", type=int, default=1000, help="at most this many (default 1000)")
    listing.set_defaults(run=run_tenants_list)
    create = actions.add_parser("create", help="a tenant and its first admin API key (shown once)")
    create.add_argument("name")
    create.add_argument("--country", required=True, help="ISO 3166-1 alpha-2 code")
    create.add_argument("--size", choices=SIZES, required=True, help="size class")
    create.set_defaults(run=run_tenants_create)
    for action, status, words in (
        ("suspend", "suspended", "its API keys and device tokens stop authenticating"),
        ("resume", "active", "its API keys and device tokens authenticate again"),
    ):
        change = actions.add_parser(action, help=f"{action} a tenant: {words}")
        change.add_argument("tenant_id")
        change.set_defaults(run=run_tenants_status, status=status)


def run_tenants_list(args: argparse.Namespace) -> Outcome:
    status = _enum(registry_pb2.TenantStatus, "TENANT_STATUS", args.status) if args.status else 0
    tenants: list[dict] = []
    cursor = ""
    with stub("registry") as registry:
        while len(tenants) < args.limit:
            page = common_pb2.PageRequest(page_size=min(PAGE_SIZE, args.limit - len(tenants)), cursor=cursor)
            reply = call(
                registry.ListTenants,
                registry_pb2.ListTenantsRequest(page=page, country=args.country, status=status),
            )
            tenants += [_tenant(tenant) for tenant in reply.tenants]
            cursor = reply.page.next_cursor
            if not cursor:
                break
    return Outcome(tenants, [Table(TENANT_COLUMNS, tenants)])


def run_tenants_create(args: argparse.Namespace) -> Outcome:
    request = registry_pb2.CreateTenantRequest(
        name=args.name,
        country=args.country,
        size_class=_enum(registry_pb2.SizeClass, "SIZE_CLASS", args.size),
    )
    with stub("registry") as registry:
        reply = call(registry.CreateTenant, request)
    created = {**_tenant(reply.tenant), "api_key": reply.api_key}
    return Outcome(created, [record(created)], "The API key is shown only now.")


def run_tenants_status(args: argparse.Namespace) -> Outcome:
    with stub("registry") as registry:
        current = call(registry.GetTenant, registry_pb2.GetTenantRequest(tenant_id=args.tenant_id))
        request = registry_pb2.UpdateTenantRequest(
            tenant_id=args.tenant_id,
            expected_version=current.version,
            update_mask=FieldMask(paths=["status"]),
            status=_enum(registry_pb2.TenantStatus, "TENANT_STATUS", args.status),
        )
        updated = _tenant(call(registry.UpdateTenant, request))
    return Outcome(updated, [record(updated)])


def run_deposit(args: argparse.Namespace) -> Outcome:
    request = marketplace_pb2.DepositRequest(
        tenant_id="",  # the operator's call
        idempotency_key=args.idempotency_key or str(uuid.uuid4()),
        reason=args.reason,
        credit_tenant_id=args.tenant_id,
        currency=args.currency,
        amount=args.amount,
    )
    with stub("marketplace") as marketplace:
        transfer = {**as_dict(call(marketplace.Deposit, request)), "idempotency_key": request.idempotency_key}
    return Outcome(transfer, [record(transfer)])


def run_retention_get(args: argparse.Namespace) -> Outcome:
    with stub("telemetry") as telemetry:
        retention = call(telemetry.GetRetention, telemetry_pb2.GetRetentionRequest(tenant_id=args.tenant_id))
    return _retention(retention)


def run_retention_set(args: argparse.Namespace) -> Outcome:
    with stub("telemetry") as telemetry:
        retention = call(
            telemetry.SetRetention, telemetry_pb2.Retention(tenant_id=args.tenant_id, days=args.days)
        )
    return _retention(retention)


def _retention(retention: telemetry_pb2.Retention) -> Outcome:
    shown = as_dict(retention)
    return Outcome(shown, [record(shown)])


def _tenant(tenant: registry_pb2.Tenant) -> dict:
    shown = as_dict(tenant)
    shown["size_class"] = shown["size_class"].removeprefix("SIZE_CLASS_").lower()
    shown["status"] = shown["status"].removeprefix("TENANT_STATUS_").lower()
    return shown


def _enum(enum: object, prefix: str, name: str) -> int:
    return enum.Value(f"{prefix}_{name.upper()}")
