"""The reconcile benchmark's figures: what bounds a sweep's time, Circle's monthly-quota view,
and the table. Pure: no I/O, no clock."""

from __future__ import annotations

import math
from typing import Any, Final

#: Circle Business: 5,000 Admin API calls a month; the sweeps' share of it
CIRCLE_MONTHLY_QUOTA: Final = 5000
MONTH_SECONDS: Final = 30 * 86400

BOUNDS: Final = {
    "pacing": "pacing at the sweep's share of the limit",
    "answering": "the sandbox answering pages",
    "ferret": "FerretDB reading the records",
    "rest": "judging, ledger writes, drift memory",
}


def bound(parts: dict[str, float]) -> str:
    """The largest share of a sweep's time."""
    spent = {
        "pacing": parts["of_which_pacer_wait"],
        "answering": parts["provider_pages"] - parts["of_which_pacer_wait"],
        "ferret": parts["ferret_reads"],
        "rest": parts["ledger_writes"] + parts["judging_and_store"],
    }
    return max(spent, key=lambda k: spent[k])


def circle_quota(calls: int, share: float, quota: int = CIRCLE_MONTHLY_QUOTA) -> dict[str, Any]:
    """How many sweeps of `calls` fit the sweeps' share of the monthly quota, and the shortest
    interval that keeps a 30-day month of scheduled sweeps inside it."""
    allowance = int(quota * share)
    sweeps = allowance // calls if calls else 0
    interval = math.ceil(MONTH_SECONDS / sweeps) if sweeps else None
    return {
        "monthly_quota": quota,
        "share": share,
        "allowance": allowance,
        "calls_per_sweep": calls,
        "sweeps_per_month": sweeps,
        "min_interval_seconds": interval,
    }


def _found(found: dict[str, int]) -> str:
    return ", ".join(f"{k} {v:,}" for k, v in sorted(found.items())) or "none"


def table(runs: list[dict[str, Any]]) -> str:
    """One Markdown row per N and integration."""
    lines = [
        "| customers | integration | calls (pages) | seconds | calls / 1,000 customers "
        "| found | repaired | 429s | provider pages s (pacer wait) "
        "| FerretDB reads s (customers + records) | judging + writes s | bound by |",
        "|---:|---|---:|---:|---:|---|---:|---:|---:|---:|---:|---|",
    ]
    for run in runs:
        n = run["customers"]
        for r in run["sweeps"]:
            parts = r["parts_s"]
            lines.append(
                f"| {n:,} | {r['integration']} ({r['provider']}) "
                f"| {r['sandbox_calls']:,} ({r['pages']:,}) | {r['seconds']:.1f} "
                f"| {1000 * r['sandbox_calls'] / n:.1f} | {_found(r['found'])} "
                f"| {r['repaired']:,} | {r['rejected_429']} "
                f"| {parts['provider_pages']:.1f} ({parts['of_which_pacer_wait']:.1f}) "
                f"| {parts['ferret_reads']:.1f} ({parts['of_which_customers']:.1f} + "
                f"{parts['of_which_records']:.1f}) "
                f"| {parts['ledger_writes'] + parts['judging_and_store']:.1f} "
                f"| {BOUNDS[bound(parts)]} |"
            )
    return "\n".join(lines)


def quota_lines(runs: list[dict[str, Any]]) -> str:
    lines = []
    for run in runs:
        q = run.get("circle_quota")
        if not q:
            continue
        interval = q["min_interval_seconds"]
        shortest = f"{interval:,} s ({interval / 3600:.1f} h)" if interval else "none fits"
        lines.append(
            f"- {run['customers']:,} customers: a Circle sweep costs {q['calls_per_sweep']:,} "
            f"calls; {q['share']:.0%} of {q['monthly_quota']:,} calls/month = "
            f"{q['allowance']:,} -> {q['sweeps_per_month']:,} sweeps a month; "
            f"SWITCHBOARD_CIRCLE_RECONCILE_INTERVAL_SECONDS >= {shortest}"
        )
    return "\n".join(lines)
