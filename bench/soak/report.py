"""The soak's outputs: `<out>.json` (the summary) and `<out>.png` (converged customers and
accepted events over time with the fault windows shaded, one labelled lane per fault target,
and the status API's latency below)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

_COLOURS = {"kill": "tab:red", "kafka": "tab:purple", "store": "tab:brown", "sandbox": "tab:orange"}


def write_json(path: Path, summary: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(summary, indent=2, sort_keys=False) + "\n")


def _lanes(windows: list[dict[str, Any]]) -> list[str]:
    """One row per fault target (a service, Kafka, the store, a provider), in first-seen order."""
    lanes: list[str] = []
    for w in sorted(windows, key=lambda w: w["start"]):
        lane = _lane(w)
        if lane not in lanes:
            lanes.append(lane)
    return lanes


def _lane(window: dict[str, Any]) -> str:
    label = str(window["label"])
    if window["kind"] == "kill":
        return label
    if window["kind"] in ("kafka", "store"):
        return label.split(" ")[0] + " down"
    return label.split(" ")[0] + " faults"


def plot(path: Path, summary: dict[str, Any]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = summary["config"]["customers"]
    events = max(summary["events"], 1)
    curve = [(t, 100 * c / max(n, 1)) for t, c in summary["series"]["converged"]]
    accepted = [(t, 100 * c / events) for t, c in summary["series"]["accepted_events"]]
    settled = [(t, 100 * c / max(n, 1)) for t, c in summary["series"].get("settled", [])]
    latency = summary["series"]["status_latency"]
    windows = summary["faults"]["windows"]
    marks = summary["timeline"]
    lanes = _lanes(windows)

    fig, (top, middle, bottom) = plt.subplots(
        3,
        1,
        figsize=(13, 9 + 0.12 * len(lanes)),
        sharex=True,
        gridspec_kw={"height_ratios": [3, 0.4 + 0.17 * max(len(lanes), 1), 1.2]},
    )
    for axis in (top, middle, bottom):
        for w in windows:
            end = w["end"] if w["end"] is not None else w["start"] + 1
            colour = _COLOURS.get(w["kind"], "grey")
            axis.axvspan(w["start"], max(end, w["start"] + 0.5), color=colour, alpha=0.07, lw=0)
        for key in ("sending_done", "faults_cleared"):
            if marks.get(key) is not None:
                axis.axvline(marks[key], color="black", ls="--", lw=0.8)
    for i, key in enumerate(("sending_done", "faults_cleared")):
        if marks.get(key) is not None:
            top.text(marks[key], 103 + 4 * i, key.replace("_", " "), fontsize=8, ha="center")
    for w in windows:  # the fault lanes: one labelled bar per window
        row = lanes.index(_lane(w))
        end = w["end"] if w["end"] is not None else w["start"] + 1
        colour = _COLOURS.get(w["kind"], "grey")
        middle.barh(row, max(end - w["start"], 0.5), left=w["start"], color=colour, alpha=0.8)
        middle.text(end + 0.3, row, w["label"], fontsize=6.5, va="center")
    middle.set_yticks(range(len(lanes)), lanes, fontsize=7)
    middle.set_ylim(len(lanes) - 0.5, -0.5)
    middle.set_ylabel("faults", fontsize=8)
    top.plot(
        [t for t, _ in curve],
        [c for _, c in curve],
        color="tab:green",
        lw=2,
        label=f"customers converged (Circle, Kit, HubSpot all match), % of {n}",
    )
    top.plot(
        [t for t, _ in settled],
        [c for _, c in settled],
        color="tab:olive",
        lw=1,
        ls="--",
        label="customers converged or with a Zendesk ticket (visibly failed)",
    )
    top.plot(
        [t for t, _ in accepted],
        [c for _, c in accepted],
        color="tab:blue",
        lw=1,
        alpha=0.7,
        label=f"events accepted by ingest, % of {events}",
    )
    top.axhline(100, color="grey", lw=0.6)
    _plot_lag(top, summary["series"].get("worker_lag", {}))
    top.set_ylabel("% of total")
    top.set_ylim(0, 112)
    top.legend(loc="lower right", fontsize=8)
    verdict = summary["verdict"]
    top.set_title(
        f"Soak: {n} customers at {summary['config']['rate']}/s, schedule "
        f"{summary['config']['schedule']} — converged {verdict['converged']}, "
        f"lost {verdict['lost']['customers']}, stuck {verdict['silently_stuck']['customers']}, "
        f"failed visibly {verdict['visibly_failed']['customers']}",
        fontsize=10,
    )
    ok = [(t, s) for t, s, code in latency if s is not None and code in (200, 404)]
    bad = [
        (t, 10.0 if s is None else s)
        for t, s, code in latency
        if s is None or code not in (200, 404)
    ]
    if ok:
        bottom.scatter([t for t, _ in ok], [s for _, s in ok], s=3, label="status API answered")
    if bad:
        bottom.scatter(
            [t for t, _ in bad],
            [s for _, s in bad],
            s=8,
            color="tab:red",
            marker="x",
            label="error, or no answer in 10 s",
        )
    bottom.axhline(2.0, color="grey", ls=":", lw=0.8)
    bottom.set_yscale("log")
    bottom.set_ylabel("status API s")
    bottom.set_xlabel("seconds since sending started")
    bottom.legend(loc="upper right", fontsize=7)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _plot_lag(top: Any, lag: dict[str, list[list[float]]]) -> None:
    """Each worker's consumer lag on a second axis: which worker the convergence waits for."""
    if not any(lag.values()):
        return
    right = top.twinx()
    for (name, points), style in zip(sorted(lag.items()), (":", "-.", (0, (1, 3))), strict=False):
        right.plot(
            [t for t, _ in points], [c for _, c in points], ls=style, lw=1, label=f"{name} lag"
        )
    right.set_ylabel("worker lag, messages", fontsize=8)
    right.set_ylim(bottom=0)
    right.legend(loc="upper left", fontsize=7)


def headline(summary: dict[str, Any]) -> str:
    """The summary in a few lines, for the terminal."""
    v, d, s = summary["verdict"], summary["delivery"], summary["status_api"]
    t = summary["timeline"]
    r = v["requests"]
    lines = [
        f"customers {v['customers']}: converged {v['converged']}, lost {v['lost']['customers']} "
        f"{v['lost']['by_story'] or ''}, silently stuck {v['silently_stuck']['customers']} "
        f"(steps {v['silently_stuck']['steps_by_integration'] or 0}), visibly failed "
        f"{v['visibly_failed']['customers']} ({v['visibly_failed']['steps_by_integration'] or 0})"
        f", still pending with a reason {v.get('still_pending', {}).get('customers', 0)} "
        f"({v.get('still_pending', {}).get('steps_by_reason') or 0})",
        f"duplicates: {v['duplicates']}",
        f"webhooks: {d['deliveries']} deliveries, {d['events_accepted']}/{summary['events']} "
        f"events accepted, {d['redeliveries']} redeliveries, non-2xx "
        + ", ".join(
            f"{k}x{e['count']} (json {e['json_error_bodies']}, other {e['other_bodies']})"
            for k, e in d["non_2xx"].items()
        )
        + f", no answer {d['no_answer']}",
        f"status API: {s.get('p50_ms')} ms p50, {s.get('p99_ms')} ms p99, "
        f"{s['share_answered_ok_within_2s']:.1%} answered within 2 s ({s['probes']} probes, "
        f"codes {s['codes']})",
        f"converge after the faults cleared and the sending ended: "
        f"{t.get('converge_seconds_after_faults_and_sending')} s ({t.get('convergence_stopped')}); "
        f"after faults cleared: {t.get('converge_seconds_after_faults_cleared')} s; "
        f"after sending done: "
        f"{t.get('converge_seconds_after_sending_done')} s; converged or ticketed after faults "
        f"cleared: {t.get('settle_seconds_after_faults_cleared')} s",
        f"grant requests: circle {r['circle_grant_requests']} for {r['customers']} customers "
        f"({r['customers_with_access_at_end']} with access at the end), kit tags "
        f"{r['kit_tag_requests']} for {r['customers']} purchases + {r['customers_canceled']} "
        f"cancels; faulted/delayed by the sandbox: "
        + ", ".join(f"{k} {sum(f.values())}" for k, f in r["faulted_by_provider"].items()),
    ]
    audit = summary.get("log_audit")
    if isinstance(audit, dict):
        brief = {k: audit[k] for k in ("ok", "lines", "counts", "error") if k in audit}
        lines.append(f"log audit: {json.dumps(brief)}")
    if summary["faults"]["errors"]:
        lines.append(f"fault errors: {summary['faults']['errors']}")
    return "\n".join(lines)
