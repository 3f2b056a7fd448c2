"""The fault trial: the whole platform on a PostgreSQL cluster and a RabbitMQ node of its
own, and its scenarios. A scenario starts partners streaming readings (and trading), lets
the test cause its faults, then stops the partners and checks every invariant, naming
each one broken rather than only the first, and records what it measured."""

from __future__ import annotations

import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import httpx
import pytest

from services.kit.bus import Topology
from tests.e2e.test_gateway_marketplace import Trader, new_trader
from tests.faults.checks import (
    drain_dead_letters,
    leaked_addresses,
    queues_without_consumers,
    stored_readings,
)
from tests.faults.figures import TRIAL, ScenarioFigures
from tests.faults.streams import (
    CURRENCY,
    RETRY_BUDGET_SECONDS,
    Attempt,
    Buyer,
    Clients,
    Control,
    ReadingClient,
    TradingClient,
)
from tests.support.client import PartnerClient
from tests.support.platform import OPERATOR_TOKEN, ROOT, Platform, consumer_queue_names
from tests.support.throwaway import ThrowawayPostgres, ThrowawayRabbit
from tests.support.waiting import eventually

STREAMING_DEVICES = 3
TRADING_BUYERS = 2
LISTING_PRICE = 1_000
LISTING_STOCK = 1_000_000
# "Mid-stream": a fault comes once the clients have had this many readings acknowledged.
READINGS_PER_STEP = 300
TRADES_PER_STEP = 3
STEP_TIMEOUT_SECONDS = 30
# Once the clients stop, how long every acknowledged reading may take to be stored.
CATCH_UP_TIMEOUT_SECONDS = 20
ROUND_TRIP_TIMEOUT_SECONDS = 20
# nameko's consumers reconnect with kombu's pause, growing by 2 s a try to 30 s.
CONSUMERS_TIMEOUT_SECONDS = 35
# A round trip slower than this is worth its steps in the notes.
SLOW_ROUND_TRIP_SECONDS = 5
LOG_LINES = 15
# A dead process's traceback: its first lines say what it was doing.
DEAD_PROCESS_LOG_LINES = 40


@dataclass
class Trial:
    platform: Platform
    postgres: ThrowawayPostgres
    rabbit: ThrowawayRabbit
    operator: PartnerClient
    # The tenant whose devices stream readings, and its admin API key.
    tenant: PartnerClient
    tenant_key: str
    seller: Trader
    # Whether the last scenario broke an invariant: the next starts on fresh processes.
    broken: bool = False

    @classmethod
    def open(cls, platform: Platform, postgres: ThrowawayPostgres, rabbit: ThrowawayRabbit) -> Trial:
        operator = PartnerClient(platform.gateway_url, OPERATOR_TOKEN)
        tenant_key = operator.create_tenant("Fault Trial Works")["api_key"]
        tenant = operator.as_tenant(tenant_key)
        return cls(platform, postgres, rabbit, operator, tenant, tenant_key, new_trader(platform, operator))

    def scenario(self, name: str, trading: bool = False, quiet_after_recovery: bool = False) -> Scenario:
        """Partners streaming readings, and trading if asked, through the faults the
        test causes in its block; the invariants checked at its end. With
        `quiet_after_recovery`, also that no request fails once the faulted component
        answers again."""
        return Scenario(self, name, trading, quiet_after_recovery)

    @property
    def topology(self) -> Topology:
        return Topology(self.platform.env["GANTRY_BUS_NAMESPACE"])

    def database_url(self, service: str) -> str:
        return self.platform.env[f"GANTRY_{service.upper()}_DATABASE_URL"]

    def ensure_backends(self) -> list[str]:
        """Starts whichever backend an earlier scenario left stopped."""
        notes = []
        if not self.postgres.running():
            self.postgres.start()
            notes.append("PostgreSQL was down: started")
        if not self.rabbit.running():
            self.rabbit.start()
            notes.append("RabbitMQ was down: started")
        return notes

    def heal(self) -> list[str]:
        """What a supervisor would have done since the last scenario: backends up, every
        exited process started again, and after a broken scenario every process replaced
        (a process it left alive may no longer work, and would fail the next scenario); the
        dead letters of earlier scenarios cleared. So each scenario answers for its own
        faults. Returns what it had to do."""
        notes = self.ensure_backends()
        for name in self.platform.commands:
            if not self.platform.alive(name):
                process = self.platform.processes.get(name)
                notes.append(f"{name} had exited ({process and process.returncode}): started")
                self.platform.start(name)
            elif self.broken:
                self.platform.kill(name)
                self.platform.start(name)
        if self.broken:
            notes.append("the last scenario failed: every process replaced before this one")
            self.broken = False
        self.platform.wait_ready()
        leftovers = drain_dead_letters(self.rabbit.url, self.topology.dead_letter_queue)
        if leftovers:
            notes.append(f"{len(leftovers)} dead letters of an earlier scenario drained")
        return notes

    def new_buyer(self) -> Buyer:
        tenant = self.operator.create_tenant(f"Buyer {time.monotonic_ns()}", "DE")
        return Buyer(tenant["id"], tenant["api_key"])


def no_server_error(response: httpx.Response, what: str) -> httpx.Response:
    """An answer of the probes, which run once the fault is over: a server error then is
    one more a client would see."""
    assert response.status_code < 500, f"{what} answered {response.status_code}: {response.text}"
    return response


def known_to_telemetry(tenant: PartnerClient, device_id: str) -> bool:
    """Telemetry answers a device's routes once telemetry-worker has learned of it."""
    path = f"/v1/devices/{device_id}/telemetry/latest"
    return no_server_error(tenant.http.get(path), f"GET {path}").status_code == 200


def answered(response: httpx.Response, status: int, what: str) -> Any:
    """The body of an answer that must have `status`; a failure names the call."""
    assert response.status_code == status, f"{what} answered {response.status_code}: {response.text}"
    return response.json()


def registered_device(tenant: PartnerClient) -> str:
    device_id = answered(
        tenant.http.post("/v1/devices", json=tenant.device_body()), 201, "registering a device"
    )["id"]
    eventually(
        lambda: known_to_telemetry(tenant, device_id),
        ROUND_TRIP_TIMEOUT_SECONDS,
        "telemetry-worker to learn of a new device (device.registered)",
    )
    return device_id


def round_trip(tenant: PartnerClient) -> dict[str, float]:
    """The platform's consumers at work: a new device reaches telemetry (registry-api's
    event, telemetry-worker), its reading is accepted (telemetry-api), stored
    (telemetry-writer) and makes the device active (telemetry's event, registry-worker).
    Returns how long each step took."""
    steps = {}
    started = time.monotonic()
    device_id = registered_device(tenant)
    steps["registered and known to telemetry"] = time.monotonic() - started
    sample = {"ts": time.time_ns() // 1_000_000, "values": {"spindle_temp": 42.0}}
    reading = {"devices": [{"device_id": device_id, "samples": [sample]}]}

    def accepted() -> bool:
        response = no_server_error(tenant.http.post("/v1/telemetry", json=reading), "POST /v1/telemetry")
        return response.status_code == 200 and response.json()["accepted"] == 1

    def stored() -> bool:
        path = f"/v1/devices/{device_id}/telemetry/latest"
        response = no_server_error(tenant.http.get(path), f"GET {path}")
        return response.status_code == 200 and bool(response.json()["values"])

    def active() -> bool:
        path = f"/v1/devices/{device_id}"
        response = no_server_error(tenant.http.get(path), f"GET {path}")
        return response.status_code == 200 and response.json()["state"] == "active"

    for probe, what in (
        (accepted, "telemetry-api to accept a reading of the new device"),
        (stored, "telemetry-writer to store it"),
        (active, "registry-worker to make the device active (telemetry.batch_stored)"),
    ):
        started = time.monotonic()
        eventually(probe, ROUND_TRIP_TIMEOUT_SECONDS, what)
        steps[what] = time.monotonic() - started
    return steps


class Verdict:
    """Every broken invariant of a scenario, each with what shows it."""

    def __init__(self, figures: ScenarioFigures) -> None:
        self.figures = figures
        self.failures: list[str] = []

    @contextmanager
    def invariant(self, name: str) -> Iterator[None]:
        try:
            yield
        # Any error here breaks the invariant it checks; the report names them all.
        except Exception as error:
            self.record(name, error)

    def record(self, name: str, error: BaseException) -> None:
        self.figures.failed.append(name)
        self.failures.append(f"[{name}] {type(error).__name__}: {error}")


class Scenario:
    """Partners streaming readings (and trading) through a fault; the invariants checked
    once they stop. Use as a context manager: `with trial.scenario(...) as scenario:`."""

    def __init__(self, trial: Trial, name: str, trading: bool, quiet_after_recovery: bool) -> None:
        self.trial = trial
        self.platform = trial.platform
        self.figures = ScenarioFigures(name)
        self.trading = trading
        self.quiet_after_recovery = quiet_after_recovery
        self.faults: list[float] = []
        self.ready_seconds: list[float] = []
        self.control = Control()
        self.devices: list[str] = []
        self.readers: Clients[ReadingClient] = Clients([], self.control)
        self.traders: Clients[TradingClient] = Clients([], self.control)
        self.listing: dict[str, Any] = {}

    def __enter__(self) -> Scenario:
        self.figures.notes += self.trial.heal()
        base_url = self.platform.gateway_url
        tenant = self.trial.tenant
        self.devices = [registered_device(tenant) for _ in range(STREAMING_DEVICES)]
        self.readers = Clients(
            [ReadingClient(base_url, self.trial.tenant_key, d, self.control) for d in self.devices],
            self.control,
        )
        if self.trading:
            self.listing = self.trial.seller.product(price=LISTING_PRICE, stock=LISTING_STOCK)
            self.traders = Clients(
                [
                    TradingClient(
                        base_url,
                        OPERATOR_TOKEN,
                        self.trial.new_buyer(),
                        self.listing["id"],
                        self.control,
                    )
                    for _ in range(TRADING_BUYERS)
                ],
                self.control,
            )
        self.readers.start()
        self.traders.start()
        return self

    # --- steps of a scenario ---------------------------------------------------------------

    def acknowledged_count(self) -> int:
        return sum(len(client.acknowledged) for client in self.readers.clients)

    def wait_for_readings(self, count: int = READINGS_PER_STEP) -> None:
        """Lets the stream run until `count` more readings are acknowledged."""
        target = self.acknowledged_count() + count
        eventually(
            lambda: self.acknowledged_count() >= target,
            STEP_TIMEOUT_SECONDS,
            f"{count} more readings acknowledged (at {self.acknowledged_count()}, want {target})",
        )

    def trades_count(self) -> int:
        return sum(client.orders_placed for client in self.traders.clients)

    def wait_for_trades(self, count: int = TRADES_PER_STEP) -> None:
        target = self.trades_count() + count
        eventually(
            lambda: self.trades_count() >= target, STEP_TIMEOUT_SECONDS, f"{count} more orders acknowledged"
        )

    @contextmanager
    def paused(self) -> Iterator[None]:
        """The clients hold their next requests for the block, once those under way are
        settled."""
        self.control.sending.clear()
        try:
            eventually(
                lambda: self.readers.idle() and self.traders.idle(),
                RETRY_BUDGET_SECONDS,
                "the clients to settle their requests",
            )
            yield
        finally:
            self.control.sending.set()

    def inject(self, action: Callable[[], object]) -> None:
        """Causes a fault, remembering when it began."""
        self.faults.append(time.monotonic())
        action()

    def recovered(self) -> None:
        """The faulted component answers again: the time since the fault is recorded."""
        self.ready_seconds.append(time.monotonic() - self.faults[-1])

    def restart(self, name: str) -> None:
        """Starts a killed process again, as Kubernetes or a supervisor would."""
        self.platform.restart(name)
        self.recovered()

    def kill_and_restart(self, name: str) -> None:
        self.inject(lambda: self.platform.kill(name))
        self.restart(name)

    # --- the end: invariants -------------------------------------------------------------

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, _tb: TracebackType | None
    ) -> None:
        if exc is not None and not isinstance(exc, Exception):
            self.control.stop.set()
            return
        verdict = Verdict(self.figures)
        if exc is not None:
            verdict.record("scenario steps", exc)
        stopped_at = time.monotonic()
        stuck = self.readers.stop() + self.traders.stop()
        # Before the checks: they need the backends, which a failed step may have left down.
        self.figures.notes += self.trial.ensure_backends()
        self.verify(verdict, stuck, stopped_at)
        TRIAL.scenarios.append(self.figures)
        self.trial.broken = bool(verdict.failures)
        if verdict.failures:
            pytest.fail(f"{self.figures.name}:\n" + "\n\n".join(verdict.failures), pytrace=False)

    def verify(self, verdict: Verdict, stuck: list[str], stopped_at: float) -> None:
        attempts = self.readers.attempts + self.traders.attempts
        recovered_at = self.faults[-1] + self.ready_seconds[-1] if self.ready_seconds else None
        self.figures.record_attempts(attempts, self.faults, recovered_at)
        self.figures.ready_seconds = max(self.ready_seconds, default=None)
        self.figures.acknowledged = self.acknowledged_count()
        self.figures.trades = self.trades_count()
        with verdict.invariant("clients settled"):
            self.check_clients_settled(stuck)
        with verdict.invariant("acknowledged == stored, no duplicates"):
            self.check_stored(stopped_at)
        with verdict.invariant("dead-letter queue empty"):
            self.check_dead_letters()
        with verdict.invariant("every process alive"):
            self.check_alive()
        with verdict.invariant("consumers consuming"):
            self.check_consuming()
        with verdict.invariant("ledger balanced"):
            self.check_ledger()
        if self.trading:
            with verdict.invariant("balances as the clients were told"):
                self.check_balances()
        with verdict.invariant("no valid request refused"):
            refused = self.readers.refused() + self.traders.refused()
            assert not refused, f"the platform refused valid requests or readings: {dict(refused)}"
        with verdict.invariant("error bodies name no internal address"):
            self.check_no_leaks(attempts)
        if self.quiet_after_recovery:
            with verdict.invariant("no server error once recovered"):
                failed = [a for a in attempts if recovered_at is not None and a.started >= recovered_at]
                failed = [a for a in failed if a.server_error]
                assert not failed, (
                    f"{len(failed)} requests sent after the recovery failed, e.g. "
                    + "; ".join(f"{a.status} {a.problem[:300]}" for a in failed[:3])
                )

    def check_clients_settled(self, stuck: list[str]) -> None:
        abandoned = self.readers.abandoned() + self.traders.abandoned()
        failures = {**self.readers.failures(), **self.traders.failures()}
        assert not failures, f"client threads ended by an error: {failures}"
        assert not stuck, f"clients still retrying after the retry budget: {stuck}"
        assert not abandoned, (
            f"requests given up on after {RETRY_BUDGET_SECONDS}s of retries, outcome unknown: {dict(abandoned)}"
        )

    def check_stored(self, stopped_at: float) -> None:
        acknowledged = {reading for client in self.readers.clients for reading in client.acknowledged}
        database = self.trial.database_url("telemetry")

        def caught_up() -> bool:
            if acknowledged <= stored_readings(database, self.devices).keys():
                return True
            if not self.platform.alive("telemetry-writer"):
                raise AssertionError("telemetry-writer is not running")
            return False

        try:
            eventually(caught_up, CATCH_UP_TIMEOUT_SECONDS, "every acknowledged reading to be stored")
            self.figures.catch_up_seconds = time.monotonic() - stopped_at
        finally:
            stored = stored_readings(database, self.devices)
            self.figures.stored = sum(stored.values())
            missing = acknowledged - stored.keys()
            unexpected = stored.keys() - acknowledged
            duplicated = {reading: count for reading, count in stored.items() if count > 1}
            assert not (missing or unexpected or duplicated), (
                f"{len(acknowledged)} readings acknowledged, {len(stored)} distinct stored:"
                f" {len(missing)} acknowledged but not stored (e.g. {sorted(missing)[:3]}),"
                f" {len(unexpected)} stored but never acknowledged (e.g. {sorted(unexpected)[:3]}),"
                f" {len(duplicated)} stored more than once (e.g. {list(duplicated.items())[:3]})."
                f"\ntelemetry-writer log:\n{self.platform.log_tail('telemetry-writer', LOG_LINES)}"
            )

    def check_dead_letters(self) -> None:
        dead = drain_dead_letters(self.trial.rabbit.url, self.trial.topology.dead_letter_queue)
        self.figures.dead_letters = len(dead)
        summary = Counter(dead)
        assert not dead, f"{len(dead)} messages dead-lettered: " + "; ".join(
            f"{count} x {what}" for what, count in summary.most_common(5)
        )

    def check_alive(self) -> None:
        exited = [name for name in self.platform.commands if not self.platform.alive(name)]
        assert not exited, "\n".join(
            f"{name} is not running (exit status {self._exit_status(name)}); its log:\n"
            f"{self.platform.log_tail(name, DEAD_PROCESS_LOG_LINES)}"
            for name in exited
        )
        self.platform.wait_ready(timeout=ROUND_TRIP_TIMEOUT_SECONDS)

    def _exit_status(self, name: str) -> int | None:
        process = self.platform.processes.get(name)
        return None if process is None else process.returncode

    def check_consuming(self) -> None:
        queues = [self.trial.topology.queue(name) for name in consumer_queue_names()]
        idle: dict[str, str] = {}
        exited: list[str] = []

        def settled() -> bool:
            idle.clear()
            idle.update(queues_without_consumers(self.trial.rabbit.url, queues))
            exited[:] = [name for name in self.platform.commands if not self.platform.alive(name)]
            # Waiting on is pointless once a process has exited: it consumes nothing.
            return not idle or bool(exited)

        started = time.monotonic()
        with suppress(AssertionError):
            eventually(settled, CONSUMERS_TIMEOUT_SECONDS, "every queue to have its consumer")
        assert not idle, f"queues nobody consumes: {idle}" + (
            f"; not running: {exited}" if exited else f", {CONSUMERS_TIMEOUT_SECONDS}s on"
        )
        self.figures.consumers_seconds = time.monotonic() - started
        steps = round_trip(self.trial.tenant)
        self.figures.round_trip_seconds = sum(steps.values())
        if self.figures.round_trip_seconds > SLOW_ROUND_TRIP_SECONDS:
            self.figures.notes.append(
                "slow round trip: " + "; ".join(f"{what} {seconds:.2f} s" for what, seconds in steps.items())
            )

    def check_ledger(self) -> None:
        check = answered(self.trial.operator.http.get("/v1/accounts/check"), 200, "CheckLedger (gateway)")
        assert check == {"balanced": True, "imbalances": []}, check
        if self.trading:
            # The operators' own check, straight on the database.
            cli = subprocess.run(
                [sys.executable, "-m", "services.marketplace.check_ledger"],
                cwd=ROOT,
                env=self.platform.env,
                capture_output=True,
                text=True,
                timeout=60,
                check=False,
            )
            assert cli.returncode == 0, cli.stdout + cli.stderr

    def check_balances(self) -> None:
        told = []
        for trader in self.traders.clients:
            buyer = PartnerClient(self.platform.gateway_url, trader.buyer.api_key)
            accounts = answered(buyer.http.get("/v1/accounts"), 200, "a buyer's accounts")["items"]
            spendable = {a["kind"]: a["spendable"] for a in accounts if a["currency"] == CURRENCY}
            expected = trader.deposited - trader.funded - trader.withdrawn
            if spendable.get("available", 0) != expected:
                told.append(
                    f"buyer {trader.buyer.tenant_id}: available {spendable.get('available')}, told"
                    f" deposits {trader.deposited} - funded {trader.funded} - withdrawn {trader.withdrawn}"
                    f" = {expected}"
                )
        listing = answered(
            self.trial.seller.http.get(f"/v1/listings/{self.listing['id']}"), 200, "the listing"
        )
        placed = self.trades_count()
        if listing["stock"] != LISTING_STOCK - placed:
            told.append(f"stock {listing['stock']}, told {placed} orders placed of {LISTING_STOCK}")
        assert not told, "; ".join(told)

    def check_no_leaks(self, attempts: list[Attempt]) -> None:
        internal_ports = [
            *self.platform.grpc_ports.values(),
            self.trial.postgres.port,
            self.trial.rabbit.port,
        ]
        leaks = leaked_addresses(attempts, internal_ports)
        assert not leaks, f"{len(leaks)} error bodies name internal addresses, e.g. {leaks[:2]}"
