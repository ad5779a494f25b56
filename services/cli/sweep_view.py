"""How sweeps look: a live bar per integration while they run (on a terminal; short plain lines
otherwise, so a CI log gets a readable trace instead of redraw codes), then the summary table,
the findings and the JSON contract line."""

from __future__ import annotations

from collections.abc import Sequence
from types import TracebackType
from typing import Final

from rich import box
from rich.console import Console, Group, RenderableType
from rich.progress import (
    BarColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table
from rich.text import Text

from libs.reconcile.records import DriftKind, SweepRecord, SweepState, SweepSummary

from .follow import Followed
from .terminal import new_table, plain, titled

#: findings listed per integration; the rest are counted ("and N more") and in the console
FINDINGS_SHOWN: Final = 20

#: short column headings for the drift kinds, in the contract's order
KIND_HEADINGS: Final = {
    DriftKind.MISSING_ACCESS: "missing\naccess",
    DriftKind.EXTRA_ACCESS: "extra\naccess",
    DriftKind.STALE_TAG: "stale\ntag",
    DriftKind.WRONG_STAGE: "wrong\nstage",
    DriftKind.UNKNOWN_PERSON: "unknown\nperson",
    DriftKind.LEDGER_OUT_OF_DATE: "ledger\nbehind",
}


class SweepProgress:
    """One line per integration: state, phase, pages, calls, customers checked."""

    def __init__(self, console: Console, integrations: Sequence[str]) -> None:
        self.console = console
        self.live = console.is_terminal
        self.progress = Progress(
            SpinnerColumn(finished_text="•"),
            TextColumn("[bold]{task.description:<11}"),
            BarColumn(bar_width=24),
            TextColumn("{task.fields[state]:<9} {task.fields[phase]:<10}", markup=False),
            TextColumn(
                "pages {task.fields[pages]:>4} · calls {task.fields[calls]:>5} · "
                "checked {task.fields[checked]:>6}"
            ),
            TimeElapsedColumn(),
            console=console,
        )
        self.tasks: dict[str, TaskID] = {
            name: self.progress.add_task(
                name, total=None, state="asking", phase="", pages=0, calls=0, checked=0
            )
            for name in integrations
        }
        self.shown: dict[str, tuple[SweepState, str]] = {}

    def __enter__(self) -> SweepProgress:
        if self.live:
            self.progress.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        if self.live:
            self.progress.stop()

    def update(self, record: SweepRecord) -> None:
        name, progress = record.integration, record.progress
        if self.live:
            task = self.tasks[name]
            self.progress.update(
                task,
                state=record.state.value,
                phase="" if record.state.finished else progress.phase,
                pages=progress.pages,
                calls=progress.calls,
                checked=progress.checked,
            )
            if record.state.finished:  # a full bar, and the spinner stops
                self.progress.update(task, total=1, completed=1)
            return
        # Not a terminal: a line when the state or phase changes, never per poll.
        seen = (record.state, progress.phase)
        if self.shown.get(name) != seen:
            self.shown[name] = seen
            self.console.print(
                f"{name}: {record.state.value}"
                + (f", {progress.phase}" if record.state is SweepState.RUNNING else "")
                + (
                    f" (pages {progress.pages}, calls {progress.calls}, checked {progress.checked})"
                    if record.state is not SweepState.REQUESTED
                    else ""
                ),
                markup=False,
                soft_wrap=True,
            )


def contract(followed: Sequence[Followed]) -> dict[str, object]:
    """The `--json` line: each finished sweep's summary, by integration (DESIGN.md)."""
    return {
        f.record.integration: (f.record.summary or SweepSummary()).contract()
        for f in followed
        if f.ok
    }


def report(followed: Sequence[Followed], *, dry_run: bool) -> RenderableType:
    """The summary table, then each integration's findings and notes."""
    title = "Reconcile" + (" (dry run: nothing was changed)" if dry_run else "")
    parts: list[RenderableType] = [titled(title, summary_table(followed))]
    for f in followed:
        if f.record.findings:
            parts.append(findings_table(f.record))
        parts.extend(_notes(f.record))
    return Group(*parts)


def summary_table(followed: Sequence[Followed]) -> Table:
    """One row per integration. A sweep that did not finish `done` shows its state in red
    and dashes (its error follows the tables): no state column, so a row fits 100 columns."""
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, padding=0, pad_edge=False)
    table.add_column("integration", no_wrap=True)
    table.add_column("checked", justify="right")
    for heading in KIND_HEADINGS.values():
        table.add_column(heading, justify="right")
    for heading in ("repaired", "reported", "calls", "seconds"):
        table.add_column(heading, justify="right")
    for f in followed:
        record, summary = f.record, f.record.summary
        if not f.ok or summary is None:
            state = record.state.value if record.state.finished else "unfinished"
            dashes = ["-"] * (len(KIND_HEADINGS) + 5)
            table.add_row(f"{record.integration} ({state})", *dashes, style="red")
            continue
        table.add_row(
            record.integration,
            str(summary.checked),
            *(str(summary.found.get(kind.value, 0)) for kind in KIND_HEADINGS),
            str(summary.repaired),
            str(summary.reported),
            str(summary.calls),
            f"{summary.seconds:.1f}",
        )
    return table


def findings_table(record: SweepRecord, shown: int = FINDINGS_SHOWN) -> RenderableType:
    findings = record.findings
    total = len(findings)
    if record.summary is not None:  # the record keeps the first ones; the summary counts all
        total = max(total, record.summary.repaired + record.summary.reported)
    table = new_table("email", "drift", "actions", "outcome")
    for finding in findings[:shown]:
        table.add_row(
            plain(finding.email),
            plain(", ".join(kind.value for kind in finding.kinds)),
            plain(", ".join(finding.actions)),
            plain(finding.outcome),
        )
    differ = "person differs" if total == 1 else "people differ"
    footer = f"and {total - shown} more" if total > shown else None
    return titled(f"{record.integration}: {total} {differ}", table, footer)


def _notes(record: SweepRecord) -> list[Text]:
    notes: list[str] = []
    if record.skipped_in_flight:
        notes.append(
            f"{record.integration}: {record.skipped_in_flight} customer(s) left out: their "
            "newest state is still on its way to the worker"
        )
    broken = {name: n for name, n in record.invariants.items() if n}
    if broken:
        listed = ", ".join(f"{name} {n}" for name, n in sorted(broken.items()))
        notes.append(f"{record.integration}: invariants broken: {listed}")
    return [Text(note) for note in notes]
