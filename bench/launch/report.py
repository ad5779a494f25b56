"""The launch benchmark's outputs: `<out>.json` (the summary), `<out>.png` (converged customers
over time against the quota bound, the refunds' access removal marked) and a few lines for the
terminal."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def write_json(path: Path, summary: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(summary, indent=2) + "\n")


def plot(path: Path, summary: dict[str, Any]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cfg, bound = summary["config"], summary["bound"]
    n, limit = cfg["purchases"], bound["seconds"]
    curve = summary["series"]["converged"]
    fig, ax = plt.subplots(figsize=(11, 6))
    ax.plot(
        [t for t, _ in curve],
        [c for _, c in curve],
        color="tab:green",
        lw=2,
        label="customers converged (Circle paid group, Kit `customer`, HubSpot lifecycle)",
    )
    ax.plot(
        [0, limit],
        [0, n],
        color="tab:grey",
        ls="--",
        lw=1.2,
        label=f"quota bound: least calls at {bound['provider']}'s published rate ({limit:.0f} s)",
    )
    ax.axvline(limit, color="tab:grey", ls=":", lw=1)
    ax.axvline(limit * 1.2, color="tab:red", ls=":", lw=0.8, label="1.2 x the bound")
    ax.axvspan(
        0,
        cfg["window"],
        color="tab:blue",
        alpha=0.06,
        lw=0,
        label=f"purchases sent ({cfg['window']:.0f} s)",
    )
    removed = summary["series"]["refunds_removed"]
    for i, (sent, gone) in enumerate(removed):
        y = n * (0.95 - 0.6 * i / max(len(removed), 1))
        ax.plot([sent, gone], [y, y], color="tab:purple", lw=1)
        ax.scatter([gone], [y], color="tab:purple", s=10)
    r = summary["refund_access_removed_seconds"]
    if removed:
        ax.plot(
            [],
            [],
            color="tab:purple",
            marker="o",
            ms=3,
            label=f"refund sent -> access removed (p50 {r['p50']} s, p99 {r['p99']} s)",
        )
    ax.set_xlabel("seconds since the burst started")
    ax.set_ylabel("customers")
    ax.set_ylim(0, n * 1.05)
    ax.set_xlim(0, max([limit * 1.25] + [t for t, _ in curve]))
    calls = summary["calls_per_purchase"]
    ax.set_title(
        f"Launch: {n} purchases in {cfg['window']:.0f} s, {cfg['refunds']} refunds at "
        f"{cfg['refunds_at']:.0f} s — converged in {summary['converged_seconds']} s "
        f"(bound {limit:.0f} s)\ncalls per purchase: "
        + ", ".join(f"{p} {c['calls']} ({c['reads']} reads)" for p, c in calls.items()),
        fontsize=10,
    )
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def headline(summary: dict[str, Any]) -> str:
    b, r = summary["bound"], summary["refund_access_removed_seconds"]
    lines = [
        f"quota bound: {b['seconds']} s ({b['provider']}); "
        + ", ".join(
            f"{p} {x['least_calls']} calls / {x['rate_per_s']}/s = {x['seconds']} s"
            for p, x in b["by_provider"].items()
        ),
        f"converged: {summary['converged_at_end']}/{summary['config']['purchases']} in "
        f"{summary['converged_seconds']} s ({summary['converged_over_bound']} x the bound; "
        f"stopped: {summary['stopped']}); refunded customers converged at "
        f"{summary['refunds_converged_seconds']} s",
    ]
    for label, key in (("burst", "calls_per_purchase"), ("setup", "calls_per_purchase_setup")):
        lines.append(
            f"calls per purchase ({label}): "
            + "; ".join(
                f"{p} {c['calls']} (reads {c['reads']}, writes {c['writes']})"
                for p, c in summary[key].items()
            )
        )
    lines += [
        f"refund -> access removed: p50 {r['p50']} s, p99 {r['p99']} s, max {r['max']} s "
        f"({r['removed']}/{r['refunds']} removed)",
        f"429s: sandbox {summary['rejected_429_sandbox']}, workers {summary['worker_429s']}; "
        f"tickets opened: {summary['tickets_opened']}",
        f"status API lifecycles: {summary['status_api_lifecycles']}",
    ]
    return "\n".join(lines)
