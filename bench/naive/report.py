"""The table, the markdown section (docs/naive-chain.md) and the plot (docs/naive-chain.png)."""

from __future__ import annotations

import os
import platform
import statistics
import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bench.naive.measure import GRANT, TAG, Verdict
from bench.naive.sender import SendStats
from bench.naive.workload import Phase

NAMES = {"naive": "naive chain", "sb": "Switchboard"}
#: the fewest writes each system's own flow needs: purchase, refund (DESIGN.md for Switchboard)
NEEDED = {"naive": (5, 2), "sb": (5, 4)}
#: hand-written notes below this line in docs/naive-chain.md survive a re-run
NOTES = "<!-- notes: kept when bench/naive/run.py rewrites this file -->"


@dataclass
class Row:
    phase: Phase
    system: str
    customers: int
    refunds: int
    deliveries: int
    stats: SendStats
    verdict: Verdict
    effects: list[float]  # purchase sent -> all three effects seen, per customer
    seconds: float  # from the first send until the sandbox settled
    load: float  # the machine's 1-minute load average when the sandbox had settled

    def pct(self, values: list[float], q: int) -> float:
        if len(values) < 2:
            return values[0] if values else float("nan")
        return statistics.quantiles(values, n=100, method="inclusive")[q - 1]

    @property
    def extra_writes(self) -> int:
        per_purchase, per_refund = NEEDED[self.system]
        needed = self.customers * per_purchase + self.refunds * per_refund
        return sum(self.verdict.writes.values()) - needed

    @property
    def extra_grants(self) -> int:
        return self.verdict.writes[f"circle {GRANT}"] - self.customers

    @property
    def extra_tags(self) -> int:
        churned = self.refunds if self.system == "sb" else 0  # Switchboard tags `churned` too
        return self.verdict.writes[f"kit {TAG}"] - self.customers - churned

    def cells(self) -> list[str]:
        acks, v = self.stats.acks, self.verdict
        lost = f"{v.lost}" + (
            f" ({', '.join(f'{k} {n}' for k, n in v.lost_by.items())})" * bool(v.lost)
        )
        return [
            f"{self.phase.key}: {self.phase.title}",
            NAMES[self.system],
            str(self.deliveries),
            f"{self.pct(acks, 50) * 1000:.0f} ms",
            f"{self.pct(acks, 99) * 1000:.0f} ms",
            str(self.stats.redeliveries),
            str(self.stats.gave_up),
            f"{self.pct(self.effects, 50):.1f} s / {self.pct(self.effects, 99):.1f} s",
            f"{lost} of {self.customers - self.refunds}",
            f"{v.refund_missed} of {self.refunds}",
            str(v.duplicate_records),
            f"{self.extra_writes:+d} ({self.extra_grants:+d} / {self.extra_tags:+d})",
            f"{v.calls / self.customers:.1f}",
            str(v.tickets),
            f"{self.load:.1f}",
        ]


HEADER = [
    "phase",
    "system",
    "deliveries",
    "ack p50",
    "ack p99",
    "redeliveries",
    "gave up",
    "effects p50 / p99",
    "purchases lost",
    "refunds not applied",
    "dup records",
    "extra writes (grants / tags)",
    "calls / customer",
    "tickets",
    "load",
]


def table(rows: list[Row]) -> str:
    lines = [HEADER, *(r.cells() for r in rows)]
    widths = [max(len(line[i]) for line in lines) for i in range(len(HEADER))]
    out = ["  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)) for line in lines]
    out.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(out)


def markdown(rows: list[Row], command: str, setup: str) -> str:
    cells = [HEADER, *(r.cells() for r in rows)]
    md = ["| " + " | ".join(c) + " |" for c in cells]
    md.insert(1, "|" + "---|" * len(HEADER))
    machine = f"{os.cpu_count()} cores, {platform.system()} {platform.release()}"
    return "\n".join(
        [
            "## Side by side with the naive chain",
            "",
            "`bench/naive/` is a reference, never shipped: the webhook handler a founder has",
            "today (`bench/naive/app.py`), which calls Circle, Kit and HubSpot inline and in",
            "order, answers Stripe only after the last call, and has no queue, no dedupe and no",
            "retries. Both it and Switchboard get the same workload on the same sandbox, one after",
            "the other in each phase, under the same faults on the same clock; only the emails",
            "differ (`naive-…` / `sb-…`).",
            "",
            f"Machine: {machine} (shared with other work). Command: `{command}`",
            "",
            setup,
            "",
            *md,
            "",
            "- **ack**: how long Stripe waits for the webhook's answer, per attempt (a timeout",
            "  counts 10 s). **redeliveries**: attempts that got a non-2xx or no answer within",
            "  10 s, which Stripe makes again (here after ~2, 6 and 18 s); **gave up**: deliveries",
            "  whose last redelivery failed too.",
            "- **effects**: from the purchase's first delivery until the sandbox held all three",
            "  effects (Circle `Members`, Kit `customer`, HubSpot `lifecyclestage=customer`),",
            "  polled once a second. **purchases lost**: customers (not refunded) missing any",
            "  of them once the system had settled. **refunds not applied**: refunded customers",
            "  still in `Members` or still tagged `customer`.",
            "- **dup records**: a second member, subscriber or contact for one email.",
            "  **extra writes**: mutating provider calls beyond the fewest the system's own flow",
            "  needs (naive: 5 per purchase, 2 per refund; Switchboard: 5 and 4, as DESIGN.md",
            "  budgets them); of them, repeated Circle grants and Kit tag calls. Negative when",
            "  effects were lost. **calls / customer**: every request (reads too) that Circle, Kit",
            "  and HubSpot served (not the injected 503s), per customer. **tickets**: Zendesk",
            "  tickets Switchboard's support opened. **load**: the machine's 1-minute load average",
            "  at the end (other work shares the 2 cores).",
            "",
            "![ack latency, lost and doubled effects per phase](naive-chain.png)",
            "",
        ]
    )


def write_markdown(path: Path, text: str) -> None:
    notes = ""
    if path.exists() and NOTES in (old := path.read_text()):
        notes = old[old.index(NOTES) :]
    path.write_text(text + "\n" + (notes or NOTES + "\n"))


def plot(rows: list[Row], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    phases = list(dict.fromkeys(r.phase.key for r in rows))
    labels = [next(r.phase.title for r in rows if r.phase.key == k) for k in phases]
    by = {(r.phase.key, r.system): r for r in rows}
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.6))
    width = 0.2
    x = range(len(phases))
    colors = {"naive": "#d9534f", "sb": "#2b7bba"}
    ax = axes[0]
    for j, system in enumerate(("naive", "sb")):
        for k, (q, alpha) in enumerate(((50, 1.0), (99, 0.5))):
            values = [by[p, system].pct(by[p, system].stats.acks, q) * 1000 for p in phases]
            offset = (2 * j + k - 1.5) * width
            ax.bar(
                [i + offset for i in x],
                values,
                width,
                color=colors[system],
                alpha=alpha,
                label=f"{NAMES[system]} p{q}",
            )
    ax.set_yscale("log")
    ax.set_ylim(5, 200_000)  # room for the legend above the bars
    ax.set_ylabel("webhook ack (ms, log)")
    ax.set_title("How long Stripe waits")
    ax.axhline(10_000, color="grey", linestyle=":", linewidth=1)
    ax.text(len(phases) - 0.5, 11_000, "Stripe gives up: 10 s", ha="right", fontsize=7)
    panels: list[tuple[str, Callable[[Row], int]]] = [
        ("Effects lost (purchases + refunds)", lambda r: r.verdict.lost + r.verdict.refund_missed),
        ("Extra provider writes", lambda r: max(r.extra_writes, 0)),
    ]
    for i, (title, metric) in enumerate(panels, start=1):
        ax = axes[i]
        for j, system in enumerate(("naive", "sb")):
            values = [metric(by[p, system]) for p in phases]
            bars = ax.bar(
                [v + (j - 0.5) * 0.38 for v in x],
                values,
                0.38,
                color=colors[system],
                label=NAMES[system],
            )
            ax.bar_label(bars, fontsize=8)
        ax.set_title(title)
    for ax in axes:
        names = [textwrap.fill(f"{k}: {t}", 18) for k, t in zip(phases, labels, strict=True)]
        ax.set_xticks(list(x), names)
        ax.tick_params(axis="x", labelsize=8)
    axes[0].legend(fontsize=7, loc="upper left", ncol=2)
    axes[1].legend(fontsize=8)
    fig.suptitle("Naive inline chain vs Switchboard, same workload and faults on the sandbox")
    fig.tight_layout(rect=(0, 0, 1, 0.95))
    fig.savefig(path, dpi=110)
    plt.close(fig)
