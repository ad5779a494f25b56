"""Where the command writes. stdout carries the answer (a table, or with `--json` exactly one
JSON line, last); stderr carries progress, notes and errors, so `--json | jq` always parses.
Tests pass their own streams."""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass, field
from typing import Any, TextIO

from rich import box
from rich.console import Console, Group, RenderableType
from rich.markup import escape
from rich.table import Table
from rich.text import Text

#: the width tables get when the output is not a terminal
PIPE_WIDTH = 120


@dataclass
class Terminal:
    stdout: TextIO = field(default_factory=lambda: sys.stdout)
    stderr: TextIO = field(default_factory=lambda: sys.stderr)
    #: the answer's tables (stdout)
    out: Console = field(init=False)
    #: progress, notes, errors, and the tables when stdout is kept for JSON
    err: Console = field(init=False)

    def __post_init__(self) -> None:
        self.out = _console(self.stdout)
        self.err = _console(self.stderr)

    def tables(self, as_json: bool) -> Console:
        """Where the human-readable answer goes: stdout, or stderr when stdout is for JSON."""
        return self.err if as_json else self.out

    def json_line(self, value: Any) -> None:
        # Written directly, not through rich, which would wrap or colour it.
        self.stdout.write(json.dumps(value, default=str) + "\n")
        self.stdout.flush()

    def note(self, text: str) -> None:
        # soft_wrap: one message, one line, however narrow rich thinks a pipe is
        self.err.print(text, markup=False, soft_wrap=True)

    def error(self, text: str) -> None:
        self.err.print(f"[bold red]error:[/] {escape(text)}", soft_wrap=True)


def _console(stream: TextIO) -> Console:
    # highlight off: rich would colour numbers and ids in our own words at random
    console = Console(file=stream, highlight=False)
    if not console.is_terminal and "COLUMNS" not in os.environ:
        # A pipe or a file has no width; rich's 80 would squeeze the tables' columns into
        # "…", which helps no one reading a CI log.
        console.width = PIPE_WIDTH
    return console


def plain(value: object) -> Text:
    """A table cell from data (emails, summaries, errors): shown as is, never read as rich
    markup, so a `[` in a provider's message cannot restyle or hide the text."""
    return Text("-" if value is None or value == "" else str(value))


def new_table(*headings: str, right: tuple[str, ...] = ()) -> Table:
    """Every table of the command looks alike: a rule under the headings, no outer frame
    (less width, and it copies cleanly into a ticket). Headings in `right` are numbers."""
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    for heading in headings:
        table.add_column(heading, justify="right" if heading in right else "left")
    return table


def titled(title: str, table: Table, footer: str | None = None) -> Group:
    """A table under a bold line of its own (a table's own title wraps to the table's width,
    which splits a long one over lines), with an optional line under it."""
    parts: list[RenderableType] = [Text(title, style="bold"), table]
    if footer:
        parts.append(Text(footer))
    parts.append(Text(""))
    return Group(*parts)
