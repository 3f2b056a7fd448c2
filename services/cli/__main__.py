"""The `gantry` command (and `kubectl-gantry`, the same as a kubectl plugin).

Usage: gantry [-o table|json] COMMAND ...   (`gantry --help`, `gantry COMMAND --help`)
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import orjson

if TYPE_CHECKING:
    from services.cli.output import CliError

ROOT = Path(__file__).resolve().parents[2]


def main(argv: Sequence[str] | None = None, prog: str = "gantry") -> int:
    _sources_on_path()
    import logging

    from services.cli.output import CliError, Exit
    from services.kit import logs

    logs.configure("gantry-cli")
    # The CLI's own records (replays, purges) only: not its libraries' narration.
    logging.getLogger().setLevel(logging.WARNING)
    # pika warns of every channel the broker closes, which is how a missing queue is told.
    logging.getLogger("pika").setLevel(logging.CRITICAL)
    args = parser(prog).parse_args(argv)
    try:
        outcome = args.run(args)
    except CliError as error:
        return _failed(error, args.output)
    print(outcome.render(args.output))
    return int(outcome.code) if outcome.code != Exit.OK else 0


def kubectl_main() -> int:
    """`kubectl gantry ...`: kubectl runs `kubectl-gantry` found on PATH."""
    return main(prog="kubectl gantry")


def parser(prog: str) -> argparse.ArgumentParser:
    from services.cli.commands import accounts, dead_letters, insights, ledger, simulate, status
    from services.kit.metrics import version

    root = argparse.ArgumentParser(
        prog=prog,
        description="Operate a Gantry installation: its health, dead letters, tenants, money and data. "
        "Finds the platform by the GANTRY_* variables its processes read (docs/operations.md, The CLI).",
        epilog="Exit codes: 0 done, 1 a problem found, 2 bad arguments, 3 a piece of the platform "
        "unreachable, 4 not found, 5 not confirmed, 6 refused in the current state.",
    )
    root.add_argument("--version", action="version", version=f"%(prog)s {version()}")
    _output_option(root, "table")
    commands = root.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in (status, dead_letters, ledger, accounts, insights, simulate):
        module.register(commands)
    for sub in _subparsers(root):
        # Also after the command (`gantry status -o json`), where people write it.
        _output_option(sub, argparse.SUPPRESS)
    return root


def _output_option(parser: argparse.ArgumentParser, default: str) -> None:
    parser.add_argument(
        "-o",
        "--output",
        choices=("table", "json"),
        default=default,
        help="table for people, json for scripts",
    )


def _subparsers(parser: argparse.ArgumentParser) -> list[argparse.ArgumentParser]:
    found = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                found += [sub, *_subparsers(sub)]
    return found


def _failed(error: CliError, output: str) -> int:
    print(f"{error}", *(f"  {violation}" for violation in error.violations), sep="\n", file=sys.stderr)
    if output == "json":
        body = {"error": str(error), "violations": error.violations, "exit_code": int(error.code)}
        print(orjson.dumps(body).decode())
    return int(error.code)


def _sources_on_path() -> None:
    # The gRPC code is generated into generated/ (`make proto`) and the tools live in
    # tools/, beside the packages the project installs: a `gantry` started from
    # .venv/bin, without PYTHONPATH, finds them there.
    for path in (ROOT, ROOT / "generated"):
        if path.is_dir() and str(path) not in sys.path:
            sys.path.append(str(path))


if __name__ == "__main__":
    sys.exit(main())
