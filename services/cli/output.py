"""What commands print: a table for people, JSON for scripts, and the exit codes that say
how a command ended (documented in docs/operations.md)."""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson


class Exit(enum.IntEnum):
    OK = 0
    # The command ran and found something wrong: a process not ready, a ledger imbalanced.
    PROBLEM = 1
    # Bad arguments, from the command line or as the service judged them.
    USAGE = 2
    # A piece of the platform did not answer.
    UNREACHABLE = 3
    NOT_FOUND = 4
    # The operator did not confirm a destructive command.
    DECLINED = 5
    # The service refused the change in the state it is in (a conflict, a precondition).
    REFUSED = 6


class CliError(Exception):
    """Ends a command with `code`, saying why; `violations` name offending fields."""

    def __init__(self, code: Exit, message: str, violations: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.code = code
        self.violations = list(violations)


@dataclass
class Table:
    columns: Sequence[str]
    rows: Sequence[dict[str, Any]]
    title: str = ""

    def render(self) -> str:
        cells = [[_cell(row.get(column)) for column in self.columns] for row in self.rows]
        headers = [column.upper().replace("_", " ") for column in self.columns]
        widths = [max(len(text) for text in column) for column in zip(headers, *cells, strict=True)]
        lines = [self.title] if self.title else []
        for line in [headers, *cells]:
            lines.append(
                "  ".join(text.ljust(width) for text, width in zip(line, widths, strict=True)).rstrip()
            )
        if not self.rows:
            lines.append("(none)")
        return "\n".join(lines)


@dataclass
class Outcome:
    """A command's result: `data` for `-o json`, `tables` (or `text`) for people."""

    data: Any
    tables: list[Table] = field(default_factory=list)
    text: str = ""
    code: Exit = Exit.OK

    def render(self, output: str) -> str:
        if output == "json":
            return orjson.dumps(self.data, option=orjson.OPT_INDENT_2, default=str).decode()
        return "\n\n".join([table.render() for table in self.tables] + ([self.text] if self.text else []))


def record(fields: dict[str, Any]) -> Table:
    """One object as a two-column table."""
    return Table(("field", "value"), [{"field": key, "value": value} for key, value in fields.items()])


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list | tuple):
        return ",".join(_cell(item) for item in value)
    if isinstance(value, dict):
        return " ".join(f"{key}={_cell(item)}" for key, item in value.items())
    return str(value)
