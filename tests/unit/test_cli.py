"""The CLI's parts that need no platform: its output, its selection of dead letters, where a
replay goes, the management API's figures, and how it is packaged (console scripts, krew)."""

from __future__ import annotations

import hashlib
import tomllib
from datetime import UTC, datetime, timedelta
from importlib import import_module

import orjson
import pika
import pytest
import yaml

from k8s.krew.archive import archive
from services.cli.__main__ import ROOT, parser
from services.cli.commands.dead_letters import duration
from services.cli.dead_letters import REPLAYS_HEADER, DeadLetter, Selection
from services.cli.output import Exit, Outcome, Table
from services.kit.bus import Topology

TOPOLOGY = Topology("ns")
NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)


def letter(queue: str = "ns.marketplace.companies", exchange: str = "ns.events", key: str = "tenant.created",
           minutes_ago: int = 5, headers: dict | None = None) -> DeadLetter:  # fmt: skip
    death = {
        "count": 1,
        "reason": "rejected",
        "queue": queue,
        "exchange": exchange,
        "routing-keys": [key],
        # pika decodes the broker's timestamps as naive UTC.
        "time": (NOW - timedelta(minutes=minutes_ago)).replace(tzinfo=None),
    }
    properties = pika.BasicProperties(
        message_id="m-1",
        content_type="application/json",
        headers={"x-request-id": "r-1", "x-death": [death], "x-first-death-queue": queue, **(headers or {})},
    )
    return DeadLetter(7, properties, b'{"tenant_id": "t-1"}')


def test_tables_align_and_json_is_plain() -> None:
    table = Table(("name", "ready"), [{"name": "q.long-name", "ready": 3}, {"name": "q", "ready": None}])
    assert table.render().splitlines() == ["NAME         READY", "q.long-name  3", "q            -"]
    assert Table(("name",), []).render().endswith("(none)")
    outcome = Outcome({"at": NOW, "n": 1}, [table], code=Exit.PROBLEM)
    assert orjson.loads(outcome.render("json")) == {"at": "2026-12-06T12:00:00+00:00", "n": 1}


def test_durations() -> None:
    assert duration("90s") == timedelta(seconds=90)
    assert duration("2h") == timedelta(hours=2)
    assert duration("7d") == timedelta(days=7)
    for bad in ("", "2", "h", "1.5h", "-1m"):
        with pytest.raises(Exception, match="not a duration"):
            duration(bad)


def test_a_dead_letter_says_where_it_came_from() -> None:
    summary = letter().summary()
    assert summary["queue"] == "ns.marketplace.companies" and summary["type"] == "tenant.created"
    assert summary["dead_lettered_at"] == NOW - timedelta(minutes=5)
    assert letter().detail()["body"] == {"tenant_id": "t-1"}
    assert letter().target(TOPOLOGY) == ("ns.events", "tenant.created")
    # A batch of readings goes back to the queue it died in, not to every queue of the fan-out.
    readings = letter("ns.telemetry.readings", "ns.readings", "")
    assert readings.target(TOPOLOGY) == ("", "ns.telemetry.readings")
    assert readings.event_type == "readings"


def test_a_replay_keeps_the_headers_and_counts_itself() -> None:
    replayed = letter().replayed_properties()
    assert replayed.headers == {"x-request-id": "r-1", REPLAYS_HEADER: 1}
    assert replayed.message_id == "m-1" and replayed.content_type == "application/json"
    assert letter(headers={REPLAYS_HEADER: 2}).replayed_properties().headers[REPLAYS_HEADER] == 3


@pytest.mark.parametrize(
    ("selection", "matches"),
    [
        (Selection(), True),
        (Selection(queue="marketplace.companies"), True),
        (Selection(queue="ns.marketplace.companies"), True),
        (Selection(queue="telemetry.readings"), False),
        (Selection(event_type="tenant.created"), True),
        (Selection(event_type="tenant.updated"), False),
        (Selection(older_than=timedelta(minutes=4)), True),
        (Selection(older_than=timedelta(minutes=6)), False),
        (Selection(newer_than=timedelta(minutes=6)), True),
        (Selection(newer_than=timedelta(minutes=4)), False),
        (Selection(message_ids=frozenset({"m-1", "m-2"})), True),
        (Selection(message_ids=frozenset({"m-2"})), False),
    ],
)
def test_selections(selection: Selection, matches: bool) -> None:
    assert selection.matches(letter(), TOPOLOGY, NOW) is matches


def test_every_command_has_help(capsys: pytest.CaptureFixture[str]) -> None:
    commands = [["status"], ["dead-letters", "list"], ["dead-letters", "show"], ["dead-letters", "replay"],
                ["dead-letters", "purge"], ["ledger", "check"], ["tenants", "list"], ["tenants", "create"],
                ["tenants", "suspend"], ["tenants", "resume"], ["deposit"], ["retention", "get"],
                ["retention", "set"], ["alarms"], ["kpis"], ["simulate"]]  # fmt: skip
    for command in commands:
        with pytest.raises(SystemExit) as ended:
            parser("gantry").parse_args([*command, "--help"])
        assert ended.value.code == 0
        assert f"usage: gantry {' '.join(command)}" in capsys.readouterr().out


def test_console_scripts_name_the_cli() -> None:
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert set(scripts) == {"gantry", "kubectl-gantry"}
    for target in scripts.values():
        module, _, function = target.partition(":")
        assert callable(getattr(import_module(module), function))


def test_the_krew_manifest_matches_its_archive() -> None:
    manifest = yaml.safe_load((ROOT / "k8s" / "krew" / "gantry.yaml").read_text())
    assert manifest["apiVersion"] == "krew.googlecontainertools.github.com/v1alpha2"
    assert (manifest["kind"], manifest["metadata"]["name"]) == ("Plugin", "gantry")
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert manifest["spec"]["version"] == f"v{version}"
    [platform] = manifest["spec"]["platforms"]
    assert platform["sha256"] == hashlib.sha256(archive()).hexdigest()
    assert platform["bin"] == "kubectl-gantry"
    assert (ROOT / "k8s" / "krew" / "kubectl-gantry").stat().st_mode & 0o111
