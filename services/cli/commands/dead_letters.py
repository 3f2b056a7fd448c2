"""`gantry dead-letters list|show|replay|purge`: what the consumers gave up on."""

from __future__ import annotations

import argparse
import re
import sys
from datetime import timedelta

import pika

from services.cli import broker
from services.cli.dead_letters import DeadLetterQueue, ReplayFailed, Selection
from services.cli.output import CliError, Exit, Outcome, Table, record
from services.kit.bus import Topology

UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}
SUMMARY_COLUMNS = ("message_id", "queue", "type", "reason", "dead_lettered_at", "deaths", "replays")
DEFAULT_LIMIT = 1000


def duration(text: str) -> timedelta:
    """`90s`, `15m`, `2h`, `7d`."""
    found = re.fullmatch(r"(\d+)([smhd])", text.strip())
    if not found:
        raise argparse.ArgumentTypeError(f"{text!r} is not a duration such as 90s, 15m, 2h or 7d")
    return timedelta(**{UNITS[found[2]]: int(found[1])})


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "dead-letters",
        help="list, show, replay or purge the messages consumers gave up on",
        description="The dead-letter queue <namespace>.dead-letter: messages that broke their contract, "
        "events whose handler kept failing, readings the database refused.",
    )
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    listing = actions.add_parser("list", help="the dead letters, filtered", description="The dead letters.")
    _filters(listing)
    listing.set_defaults(run=run_list)
    show = actions.add_parser("show", help="one dead letter in full: headers and body")
    show.add_argument("message_id")
    _limit(show)
    show.set_defaults(run=run_show)
    replay = actions.add_parser(
        "replay",
        help="republish dead letters where they were first published",
        description="Republishes each selected dead letter to its original exchange and routing key, "
        "with its headers (a reading's batch to the queue it died in alone), then removes it. At least "
        "once: consumers skip what they have handled. Each replay is logged and counted in the "
        "message's x-gantry-replays header.",
    )
    replay.add_argument("message_ids", nargs="*", metavar="MESSAGE_ID")
    replay.add_argument("--all", action="store_true", help="every dead letter the filters select")
    _filters(replay)
    replay.set_defaults(run=run_replay)
    purge = actions.add_parser(
        "purge",
        help="drop dead letters for good",
        description="Drops the dead letters named or filtered, or all of them; asks first.",
    )
    purge.add_argument("message_ids", nargs="*", metavar="MESSAGE_ID")
    _filters(purge)
    purge.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    purge.set_defaults(run=run_purge)


def _filters(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--queue", default="", help="the queue they died in (with or without namespace)")
    parser.add_argument("--type", dest="event_type", default="", help="the event type (routing key)")
    parser.add_argument("--older-than", type=duration, help="dead-lettered at least this long ago (15m, 2h)")
    parser.add_argument("--newer-than", type=duration, help="dead-lettered at most this long ago")
    _limit(parser)


def _limit(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--limit",
        type=int,
        default=DEFAULT_LIMIT,
        help=f"how deep to read the queue (default {DEFAULT_LIMIT})",
    )


def _selection(args: argparse.Namespace, message_ids: list[str] | None = None) -> Selection:
    return Selection(
        queue=args.queue,
        event_type=args.event_type,
        older_than=args.older_than,
        newer_than=args.newer_than,
        message_ids=frozenset(message_ids or ()),
    )


def run_list(args: argparse.Namespace) -> Outcome:
    with broker.connection() as connection:
        letters = [letter.summary() for letter in _queue(connection).select(_selection(args), args.limit)]
    return Outcome(letters, [Table(SUMMARY_COLUMNS, letters)])


def run_show(args: argparse.Namespace) -> Outcome:
    with broker.connection() as connection:
        letters = _queue(connection).select(Selection(message_ids=frozenset([args.message_id])), args.limit)
        letter = next(letters, None)
        if letter is None:
            raise CliError(Exit.NOT_FOUND, f"no dead letter {args.message_id} among the first {args.limit}")
        detail = letter.detail()
    return Outcome(detail, [record(detail)])


def run_replay(args: argparse.Namespace) -> Outcome:
    selection = _selection(args, args.message_ids)
    if not (args.all or selection.narrowed):
        raise CliError(Exit.USAGE, "name the dead letters to replay, filter them, or pass --all")
    replayed, failed = [], []
    with broker.connection() as connection:
        queue = _queue(connection)
        for letter in queue.select(selection, args.limit):
            try:
                exchange, routing_key = queue.replay(letter)
            except ReplayFailed as error:
                failed.append({**letter.summary(), "error": str(error)})
                continue
            replayed.append({**letter.summary(), "exchange": exchange, "routing_key": routing_key})
    missing = sorted(selection.message_ids - {row["message_id"] for row in replayed + failed})
    data = {"replayed": replayed, "failed": failed, "not_found": missing}
    tables = [Table((*SUMMARY_COLUMNS[:3], "exchange", "routing_key"), replayed, "REPLAYED")]
    if failed:
        tables.append(Table((*SUMMARY_COLUMNS[:3], "error"), failed, "FAILED (left in the queue)"))
    text = f"not found: {', '.join(missing)}" if missing else ""
    code = Exit.PROBLEM if failed else Exit.NOT_FOUND if missing else Exit.OK
    return Outcome(data, tables, text, code)


def run_purge(args: argparse.Namespace) -> Outcome:
    selection = _selection(args, args.message_ids)
    with broker.connection() as connection:
        queue = _queue(connection)
        if not selection.narrowed:
            _confirm(args, f"Drop every dead letter of {queue.name}?")
            purged = queue.purge()
            return Outcome({"purged": purged}, text=f"{purged} dead letters purged")
        letters = list(queue.select(selection, args.limit))
        _confirm(args, f"Drop {len(letters)} dead letters of {queue.name}?")
        for letter in letters:
            queue.drop(letter)
    ids = [letter.message_id for letter in letters]
    return Outcome({"purged": len(ids), "message_ids": ids}, text=f"{len(ids)} dead letters purged")


def _confirm(args: argparse.Namespace, question: str) -> None:
    if args.yes:
        return
    if not sys.stdin.isatty():
        raise CliError(Exit.DECLINED, "purging needs a confirmation: answer on a terminal, or pass --yes")
    if input(f"{question} [y/N] ").strip().lower() not in ("y", "yes"):
        raise CliError(Exit.DECLINED, "nothing purged")


def _queue(connection: pika.BlockingConnection) -> DeadLetterQueue:
    return DeadLetterQueue(connection, Topology.from_env())
