"""The doctor's answer: one table (check, ✓/✗, detail, fix), or with `--json` one line
`{"ok": bool, "checks": [{"name", "ok", "detail", "fix"}]}` on stdout (the table on stderr)."""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text

from .doctor_checks import Check
from .terminal import Terminal, new_table, plain, titled


def show(checks: Sequence[Check], terminal: Terminal, *, as_json: bool) -> None:
    table = new_table("check", "", "detail", "fix")
    for column in table.columns:
        # A URL or a scope cut to "…" would hide the very thing to fix: wrap it instead.
        column.overflow = "fold"
    for check in checks:
        mark = Text("✓", style="green") if check.ok else Text("✗", style="bold red")
        table.add_row(plain(check.name), mark, plain(check.detail), Text(check.fix))
    bad = sum(not c.ok for c in checks)
    footer = f"{bad} of {len(checks)} checks failed" if bad else f"all {len(checks)} checks passed"
    terminal.tables(as_json).print(titled("switchboard doctor", table, footer))
    if as_json:
        terminal.json_line({"ok": not bad, "checks": [c.as_json() for c in checks]})
