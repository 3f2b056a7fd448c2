"""`gantry status`: is every piece of the installation up and keeping up?"""

from __future__ import annotations

import argparse

from services.cli import broker, migrations, probes
from services.cli.output import CliError, Exit, Outcome, Table
from services.kit.bus import Topology

HELP = "every process's health and release, queue depths, dead letters, consumers' lag, migrations"


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("status", help=HELP, description=HELP[0].upper() + HELP[1:] + ".")
    parser.set_defaults(run=run)


def run(_: argparse.Namespace) -> Outcome:
    topology = Topology.from_env()
    processes = probes.probe_all()
    queues = _queues(topology)
    revisions = migrations.revisions()
    dead_letters = next((q.ready for q in queues if q.name == topology.dead_letter_queue), None)
    problems = [
        *(f"{p.process} is not live" for p in processes if not p.live),
        *(f"{p.process} is not ready: {p.ready}" for p in processes if p.live and not p.healthy),
        *(f"queue {q.name}: {q.problem}" for q in queues if q.problem),
        *(f"{r.service} migrations: {r.problem or 'behind'}" for r in revisions if not r.current),
        *([f"{dead_letters} dead letters"] if dead_letters else []),
    ]
    data = {
        "healthy": not problems,
        "problems": problems,
        "processes": [p.as_dict() for p in processes],
        "queues": [q.as_dict() for q in queues],
        "dead_letters": dead_letters,
        "migrations": [r.as_dict() for r in revisions],
    }
    tables = [
        Table(("process", "live", "ready", "version", "figures"), data["processes"], "PROCESSES"),
        Table(("name", "ready", "unacknowledged", "consumers", "problem"), data["queues"], "QUEUES"),
        Table(("service", "applied", "newest", "current", "problem"), data["migrations"], "MIGRATIONS"),
    ]
    verdict = "healthy" if not problems else "problems:\n" + "\n".join(f"  - {p}" for p in problems)
    return Outcome(data, tables, verdict, Exit.OK if not problems else Exit.PROBLEM)


def _queues(topology: Topology) -> list[broker.QueueStats]:
    names = broker.queue_names(topology)
    try:
        return broker.queue_stats(names)
    except CliError as error:
        return [broker.QueueStats(name, problem=str(error)) for name in names]
