"""`gantry`, the operator's command line, end to end: run as operators run it, in its own
process, against the running platform (every process, PostgreSQL, RabbitMQ)."""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pika
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from services.cli.output import Exit
from services.kit.db import normalise_url
from tests.e2e.test_dead_letters import publish
from tests.support.backends import AMQP_URL
from tests.support.platform import ROOT, Platform
from tests.support.waiting import eventually

Gantry = Callable[..., subprocess.CompletedProcess]


@pytest.fixture(scope="module")
def gantry(platform: Platform) -> Gantry:
    env = {
        **platform.env,
        "GANTRY_GATEWAY_URL": platform.gateway_url,
        "GANTRY_LOG_LEVEL": "INFO",
        **{
            f"GANTRY_{name.upper().replace('-', '_')}_METRICS_URL": f"http://127.0.0.1:{port}/metrics"
            for name, port in platform.metrics_ports.items()
        },
    }

    def run(
        *args: str, expect: tuple[Exit, ...] = (Exit.OK,), stdin: str = ""
    ) -> subprocess.CompletedProcess:
        done = subprocess.run(
            [sys.executable, "-m", "services.cli", *args],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            input=stdin,
            timeout=120,
        )
        assert done.returncode in expect, f"{args}: exit {done.returncode}\n{done.stdout}\n{done.stderr}"
        return done

    return run


def as_json(done: subprocess.CompletedProcess) -> Any:
    return orjson.loads(done.stdout)


# Dead letters other tests of the session left make status's verdict a problem (1).
STATUS_EXITS = (Exit.OK, Exit.PROBLEM)


def test_status_reports_every_process_queue_and_migration(gantry: Gantry, platform: Platform) -> None:
    report = as_json(gantry("status", "-o", "json", expect=STATUS_EXITS))
    processes = {p["process"]: p for p in report["processes"]}
    assert set(processes) == set(platform.commands)
    assert all(p["live"] for p in processes.values()), processes
    assert processes["registry-api"]["ready"] == "SERVING"
    assert processes["gateway"]["ready"] == "ready"
    assert processes["analytics-worker"]["version"] not in ("", "-")
    assert "gantry_telemetry_pending_readings" in processes["telemetry-writer"]["figures"]
    namespace = platform.env["GANTRY_BUS_NAMESPACE"]
    queues = {q["name"]: q for q in report["queues"]}
    assert queues[f"{namespace}.telemetry.readings"]["consumers"] >= 1
    assert queues[f"{namespace}.marketplace.companies"]["consumers"] >= 1
    assert all(r["current"] for r in report["migrations"]), report["migrations"]
    assert report["healthy"] == (not report["problems"])
    assert all("dead letters" in problem for problem in report["problems"]), report["problems"]

    table = gantry("status", expect=STATUS_EXITS).stdout
    assert "PROCESSES" in table and "QUEUES" in table and "MIGRATIONS" in table


def test_status_says_which_process_is_down(gantry: Gantry, platform: Platform) -> None:
    platform.stop("analytics-notifier")
    try:
        report = as_json(gantry("status", "-o", "json", expect=(Exit.PROBLEM,)))
    finally:
        platform.restart("analytics-notifier")
    assert "analytics-notifier is not live" in report["problems"]


def test_tenants_money_and_retention(gantry: Gantry) -> None:
    created = as_json(
        gantry("tenants", "create", "CLI Tooling", "--country", "DE", "--size", "small", "-o", "json")
    )
    tenant = created["id"]
    assert created["api_key"] and created["status"] == "active"
    listed = as_json(gantry("tenants", "list", "--country", "DE", "-o", "json"))
    assert tenant in {t["id"] for t in listed}
    assert as_json(gantry("tenants", "suspend", tenant, "-o", "json"))["status"] == "suspended"
    suspended = as_json(gantry("tenants", "list", "--status", "suspended", "-o", "json"))
    assert tenant in {t["id"] for t in suspended}
    assert as_json(gantry("tenants", "resume", tenant, "-o", "json"))["status"] == "active"
    assert tenant in gantry("tenants", "list").stdout

    transfer = as_json(
        gantry("deposit", tenant, "12050", "--currency", "CNY", "--reason", "wire 42", "-o", "json")
    )
    assert transfer["amount"] == 12050 and transfer["currency"] == "CNY"
    again = as_json(
        gantry(
            "deposit", tenant, "12050", "--currency", "CNY", "--reason", "wire 42",
            "--idempotency-key", transfer["idempotency_key"], "-o", "json",
        )
    )  # fmt: skip
    assert again["id"] == transfer["id"]
    ledger = as_json(gantry("ledger", "check", "-o", "json"))
    assert ledger["balanced"] and "CNY" in {row["currency"] for row in ledger["currencies"]}
    assert "balanced" in gantry("ledger", "check").stdout

    assert as_json(gantry("retention", "set", tenant, "90", "-o", "json"))["days"] == 90
    assert as_json(gantry("retention", "get", tenant, "-o", "json")) == {"tenant_id": tenant, "days": 90}

    overview = as_json(gantry("alarms", tenant, "-o", "json"))
    assert not any(overview["active_alarms_by_severity"].values())
    assert "ACTIVE ALARMS" in gantry("alarms", tenant).stdout
    report = as_json(gantry("kpis", tenant, "--days", "2", "--granularity", "day", "-o", "json"))
    assert report["zone"] == "UTC" and report["periods"]


def test_bad_arguments_and_refusals_have_their_exit_codes(gantry: Gantry) -> None:
    gantry("deposit", expect=(Exit.USAGE,))
    gantry("tenants", "create", "X", "--country", "DE", "--size", "huge", expect=(Exit.USAGE,))
    gantry("dead-letters", "list", "--older-than", "soon", expect=(Exit.USAGE,))
    refused = gantry(
        "tenants",
        "create",
        "X",
        "--country",
        "Germany",
        "--size",
        "small",
        "-o",
        "json",
        expect=(Exit.USAGE,),
    )
    assert any(v.startswith("country") for v in as_json(refused)["violations"])
    tenant = as_json(gantry("tenants", "create", "Y", "--country", "FR", "--size", "micro", "-o", "json"))[
        "id"
    ]
    gantry("retention", "set", tenant, "7", expect=(Exit.USAGE,))
    gantry("tenants", "suspend", str(uuid.uuid4()), expect=(Exit.NOT_FOUND,))
    gantry("dead-letters", "show", str(uuid.uuid4()), expect=(Exit.NOT_FOUND,))
    gantry("dead-letters", "replay", expect=(Exit.USAGE,))


def test_help_everywhere(gantry: Gantry) -> None:
    for command in (
        ["--help"],
        ["status", "--help"],
        ["dead-letters", "purge", "--help"],
        ["tenants", "--help"],
    ):
        assert "usage:" in gantry(*command).stdout


def test_a_dead_letter_replayed_reaches_its_consumer(gantry: Gantry, platform: Platform) -> None:
    namespace = platform.env["GANTRY_BUS_NAMESPACE"]
    platform.stop("marketplace-worker")
    try:
        tenant = as_json(
            gantry("tenants", "create", "Replayed", "--country", "IT", "--size", "small", "-o", "json")
        )
        event_id = eventually(lambda: reject_event_of(f"{namespace}.marketplace.companies", tenant["id"]), 15)
    finally:
        platform.restart("marketplace-worker")

    listed = as_json(
        gantry(
            "dead-letters", "list", "--queue", "marketplace.companies", "--newer-than", "10m", "-o", "json"
        )
    )
    assert event_id in {letter["message_id"] for letter in listed}
    shown = as_json(gantry("dead-letters", "show", event_id, "-o", "json"))
    assert shown["reason"] == "rejected" and shown["type"] == "tenant.created"
    assert shown["body"]["tenant_id"] == tenant["id"] and "x-request-id" in shown["headers"]
    assert not known_company(platform, tenant["id"])

    replayed = gantry("dead-letters", "replay", event_id, "-o", "json")
    [replay] = as_json(replayed)["replayed"]
    assert (replay["exchange"], replay["routing_key"]) == (f"{namespace}.events", "tenant.created")
    assert "dead letter replayed" in replayed.stderr
    eventually(lambda: known_company(platform, tenant["id"]), 15, "the replayed event handled")
    gantry("dead-letters", "show", event_id, expect=(Exit.NOT_FOUND,))


def test_purge_asks_first(gantry: Gantry, platform: Platform) -> None:
    namespace = platform.env["GANTRY_BUS_NAMESPACE"]
    poison = str(uuid.uuid4())
    publish(namespace, "device.registered", {"not": "an event"}, poison)
    eventually(lambda: poison in gantry("dead-letters", "list", "--type", "device.registered").stdout, 15)
    gantry("dead-letters", "purge", poison, stdin="n\n", expect=(Exit.DECLINED,))
    purged = as_json(gantry("dead-letters", "purge", poison, "--yes", "-o", "json"))
    assert purged["purged"] >= 1 and set(purged["message_ids"]) == {poison}
    gantry("dead-letters", "show", poison, expect=(Exit.NOT_FOUND,))


def test_simulate_streams_through_a_gateway(gantry: Gantry, platform: Platform, tmp_path: Path) -> None:
    done = gantry(
        "simulate",
        "--gateway",
        platform.gateway_url,
        "--ticks",
        "2",
        "--state",
        str(tmp_path / "f.json"),
        "-o",
        "json",
    )
    factory = as_json(done)
    assert factory["devices"] == 5 and factory["admin_email"].endswith("@demo-precision.example")


def reject_event_of(queue: str, tenant_id: str) -> str | None:
    """Takes the tenant's event off its consumer's queue as a consumer that refuses it
    would: the broker dead-letters it."""
    connection = pika.BlockingConnection(pika.URLParameters(AMQP_URL))
    try:
        channel = connection.channel()
        while True:
            method, properties, body = channel.basic_get(queue)
            if method is None:
                return None
            if orjson.loads(body).get("tenant_id") == tenant_id:
                channel.basic_reject(method.delivery_tag, requeue=False)
                return properties.message_id
    finally:
        connection.close()  # what it took and did not reject goes back


def known_company(platform: Platform, tenant_id: str) -> bool:
    url = normalise_url(platform.env["GANTRY_MARKETPLACE_DATABASE_URL"])
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as connection:
            found = connection.execute(
                text("SELECT 1 FROM companies WHERE tenant_id = :id"), {"id": tenant_id}
            )
            return found.first() is not None
    finally:
        engine.dispose()
