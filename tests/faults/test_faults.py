"""The platform through faults: processes killed mid-stream, PostgreSQL restarted or down
while processes start, the broker restarted, the readings table locked while the writer
keeps dying. Partners stream readings (and trade) throughout; every scenario ends with the
invariants of tests/faults/trial.py: what was acknowledged is stored exactly once, nothing
is dead-lettered, every process is alive and consuming, the ledger balances and agrees
with what the clients were told, and no error shows the platform's insides.

The only help the platform gets is what Kubernetes or a supervisor gives: a process the
test killed is started again."""

from __future__ import annotations

import time

import pytest

from services.kit.platform import SERVICES, consumer_queues
from services.telemetry.api.servicer import SERVICE_NAME as TELEMETRY_SERVICE
from services.telemetry.bus import READINGS
from tests.faults.checks import delete_queues, gauge, ready_messages, table_locked, waiting_for_lock
from tests.faults.trial import Trial
from tests.support.platform import grpc_serving
from tests.support.waiting import eventually

WRITER = "telemetry-writer"
# Every process kind killed once while partners stream readings. The writer, killed
# twice, and marketplace-api, killed while partners trade, have scenarios of their own.
KILLED_ONCE = [
    "telemetry-api",
    "registry-api",
    "analytics-api",
    "registry-worker",
    "telemetry-worker",
    "marketplace-worker",
    "analytics-worker",
    "gateway",
]
BROKER_RESTARTS = 3
WRITER_KILLS_UNDER_LOCK = 6
# How long PostgreSQL stays down while processes start (the clients paused meanwhile, so
# that the writer starts with nothing to write): the outage's length, long enough for a
# process to meet the missing database at start-up, not a wait for a result.
POSTGRES_OUTAGE_SECONDS = 4


def writer_metrics_url(trial: Trial) -> str:
    return f"http://127.0.0.1:{trial.platform.metrics_ports[WRITER]}/metrics"


def test_the_writer_killed_twice_mid_stream_loses_and_duplicates_nothing(trial: Trial) -> None:
    with trial.scenario("telemetry-writer SIGKILL x2") as scenario:
        for _ in range(2):
            scenario.wait_for_readings()
            scenario.kill_and_restart(WRITER)
        scenario.wait_for_readings()


@pytest.mark.parametrize("process", KILLED_ONCE)
def test_a_process_killed_mid_stream_and_restarted_loses_nothing(trial: Trial, process: str) -> None:
    with trial.scenario(f"{process} SIGKILL") as scenario:
        scenario.wait_for_readings()
        scenario.kill_and_restart(process)
        scenario.wait_for_readings()


def test_marketplace_api_killed_while_partners_trade_keeps_the_ledger_as_told(trial: Trial) -> None:
    with trial.scenario("marketplace-api SIGKILL, trading", trading=True) as scenario:
        scenario.wait_for_trades()
        scenario.kill_and_restart("marketplace-api")
        scenario.wait_for_trades()
        scenario.wait_for_readings()


def test_postgres_restarted_mid_stream_costs_no_reading_and_no_money(trial: Trial) -> None:
    with trial.scenario("PostgreSQL restart, trading", trading=True, quiet_after_recovery=True) as scenario:
        scenario.wait_for_readings()
        scenario.wait_for_trades()
        scenario.inject(trial.postgres.restart)
        scenario.recovered()
        scenario.wait_for_readings()
        scenario.wait_for_trades()


def test_the_broker_restarted_three_times_in_a_row_loses_nothing(trial: Trial) -> None:
    registry = trial.database_url("registry")

    def registry_worker_mid_event() -> bool:
        # Recording telemetry's batches updates devices: the lock holds the handler there.
        return waiting_for_lock(registry, "devices") > 0

    with trial.scenario(f"RabbitMQ restart x{BROKER_RESTARTS}") as scenario:
        scenario.wait_for_readings()
        # The first restart catches registry-worker in the middle of an event, as a busy
        # worker would be: it settles the event over a connection the broker has closed.
        with table_locked(registry, "devices", mode="EXCLUSIVE"):
            eventually(registry_worker_mid_event, 15, "registry-worker to be handling an event")
            scenario.inject(trial.rabbit.restart)
        scenario.recovered()
        for _ in range(BROKER_RESTARTS - 1):
            scenario.wait_for_readings()
            scenario.inject(trial.rabbit.restart)
            scenario.recovered()
        scenario.wait_for_readings()


def test_the_writer_killed_again_and_again_while_readings_are_locked_dead_letters_nothing(
    trial: Trial,
) -> None:
    def writer_holds_readings() -> bool:
        # Received and not yet stored: each kill sends them back to the queue, again.
        return (gauge(writer_metrics_url(trial), "gantry_telemetry_pending_readings") or 0) > 0

    with trial.scenario(f"readings locked, writer SIGKILL x{WRITER_KILLS_UNDER_LOCK}") as scenario:
        scenario.wait_for_readings()
        with table_locked(trial.database_url("telemetry"), "readings"):
            for _ in range(WRITER_KILLS_UNDER_LOCK):
                scenario.wait_for_readings()
                eventually(writer_holds_readings, 15, "telemetry-writer to hold readings it cannot store")
                scenario.kill_and_restart(WRITER)
        scenario.wait_for_readings()


def test_processes_started_while_postgres_is_down_wait_for_it(trial: Trial) -> None:
    starting = [WRITER, "registry-api"]
    readings_queue = trial.topology.queue(READINGS.name)

    def writer_idle() -> bool:
        # A writer that starts with readings to store only retries them: the one to try
        # is a writer meeting the missing database with nothing to do but its housekeeping.
        held = gauge(writer_metrics_url(trial), "gantry_telemetry_pending_readings")
        return held == 0 and ready_messages(trial.rabbit.url, readings_queue) == 0

    with trial.scenario("PostgreSQL down at process start", quiet_after_recovery=True) as scenario:
        scenario.wait_for_readings()
        with scenario.paused():
            eventually(writer_idle, 15, "telemetry-writer to store every reading it was sent")
            scenario.inject(trial.postgres.stop)
            for name in starting:
                trial.platform.kill(name)
                trial.platform.start(name)
            time.sleep(POSTGRES_OUTAGE_SECONDS)
            trial.postgres.start()
        trial.platform.wait_ready(starting)
        scenario.recovered()
        scenario.wait_for_readings()


def test_connections_the_broker_closes_are_opened_again_and_lose_nothing(trial: Trial) -> None:
    with trial.scenario("RabbitMQ closes every connection") as scenario:
        scenario.wait_for_readings()
        scenario.inject(trial.rabbit.close_connections)
        scenario.recovered()
        scenario.wait_for_readings()


def test_consumers_the_broker_cancels_consume_again(trial: Trial) -> None:
    # The broker cancels the consumers of a queue that goes away (deleted, or lost with
    # its node in a cluster). The events in them go too; the readings queue is kept.
    event_queues = [
        trial.topology.queue(queue.name)
        for queue in consumer_queues([service.name for service in SERVICES])
        if queue.event_types
    ]
    with trial.scenario("RabbitMQ cancels every event consumer") as scenario:
        scenario.wait_for_readings()
        scenario.inject(lambda: delete_queues(trial.rabbit.url, event_queues))
        scenario.recovered()
        scenario.wait_for_readings()


def test_a_broker_short_of_memory_makes_ingest_refuse_rather_than_hang(trial: Trial) -> None:
    telemetry = trial.platform.grpc_target("telemetry")
    with trial.scenario("RabbitMQ memory alarm") as scenario:
        scenario.wait_for_readings()
        scenario.inject(trial.rabbit.block_publishers)
        try:
            # Publications wait at most the publisher's blocked timeout, then fail: ingest
            # answers 503, and telemetry says it is not ready, instead of hanging.
            eventually(lambda: not grpc_serving(telemetry, TELEMETRY_SERVICE), 60, "telemetry not ready")
        finally:
            trial.rabbit.unblock_publishers()
        eventually(lambda: grpc_serving(telemetry, TELEMETRY_SERVICE), 60, "telemetry ready again")
        scenario.recovered()
        scenario.wait_for_readings()
