"""`gantry simulate`: the simulated factory of `make run` (tools/simulate.py), against any
gateway."""

from __future__ import annotations

import argparse
import contextlib
from pathlib import Path

import grpc
import httpx
from gantry.v1 import people_pb2_grpc

from services.cli import settings
from services.cli.output import CliError, Exit, Outcome
from services.kit.settings import data_dir, grpc_target
from tools import simulate
from tools.simulated_capacity import offer_capacity


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "simulate",
        help="stream a simulated factory's telemetry through a gateway",
        description="Creates (or finds again) a tenant with five machining centres, their rules and a "
        "capacity listing, through the gateway's partner API with the operator token, and its first "
        "admin, invited through the registry's PeopleService (GANTRY_REGISTRY_GRPC_TARGET), then "
        "streams their readings once a second until interrupted or --ticks have been sent.",
    )
    parser.add_argument("--gateway", default="", help="its base URL (default GANTRY_GATEWAY_URL)")
    parser.add_argument("--ticks", type=int, help="stop after this many seconds' readings")
    parser.add_argument(
        "--state",
        type=Path,
        help="where the factory's tenant and devices are remembered (default under GANTRY_DATA_DIR)",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> Outcome:
    token = settings.operator_token()
    if not token:
        raise CliError(Exit.USAGE, "set GANTRY_OPERATOR_TOKEN: the gateway's operator token")
    gateway = args.gateway or settings.gateway_url()
    state = args.state or data_dir() / f"simulated-factory-v{simulate.STATE_VERSION}.json"
    try:
        with (
            httpx.Client(base_url=gateway, timeout=10) as http,
            grpc.insecure_channel(grpc_target("registry")) as registry,
        ):
            simulate.wait_ready(http)
            factory = simulate.open_factory(http, people_pb2_grpc.PeopleServiceStub(registry), token, state)
            listing = offer_capacity(http, factory.api_key, factory.devices[0]["id"])
            with contextlib.suppress(KeyboardInterrupt):
                simulate.stream(http, factory, args.ticks)
    except httpx.HTTPError as error:
        raise CliError(Exit.UNREACHABLE, f"the gateway at {gateway} failed: {error}") from error
    except grpc.RpcError as error:
        raise CliError(Exit.UNREACHABLE, f"the registry failed: {error.code().name}") from error
    summary = {
        "gateway": gateway,
        "tenant_api_key": factory.api_key,
        "admin_email": factory.admin_email,
        "admin_password": factory.admin_password,
        "devices": len(factory.devices),
    }
    return Outcome({**summary, "listing_id": listing["id"]}, text=f"simulated factory at {gateway}: done")
