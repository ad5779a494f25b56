"""The console's Reconcile page and the admin API's `GET /api/reconcile`: each integration's last
finished sweep (from the sweeps store the workers and `switchboard reconcile` write) — when and
why it ran, what it checked, the drift it found by kind, what it repaired and what it only
reported, with the people, the business invariants and the customers it left out as in flight.

An integration never swept says so, with how to get a sweep: `switchboard reconcile
--integration NAME`, or wait for the workers' schedule."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from libs.reconcile.records import FINDINGS_KEPT, DriftKind, Finding, Invariant, SweepRecord
from libs.reconcile.store import SweepStore

from .service import Support
from .tickets import integration_name
from .views import iso_text

#: what each kind of drift means, as the page explains it
KIND_MEANING: Final[dict[str, str]] = {
    DriftKind.MISSING_ACCESS: "should hold a managed group, does not",
    DriftKind.EXTRA_ACCESS: "holds a managed group it should not (a revenue leak)",
    DriftKind.STALE_TAG: "carries the wrong managed tags",
    DriftKind.WRONG_STAGE: "the CRM's stage or lifecycle property disagrees",
    DriftKind.UNKNOWN_PERSON: "holds a managed group or tag, and is no customer",
    DriftKind.LEDGER_OUT_OF_DATE: "the provider is right, the worker's ledger was corrected",
}

#: where the schedule is set, and its default (the workers' setting)
INTERVAL_SETTING: Final = "SWITCHBOARD_RECONCILE_INTERVAL_SECONDS"
INTERVAL_DEFAULT: Final = 3600


def sweep_command(integration: str) -> str:
    return f"switchboard reconcile --integration {integration}"


async def latest_sweeps(
    sweeps: SweepStore, integrations: list[str]
) -> dict[str, SweepRecord | None]:
    """Each integration's last finished (done) sweep; None if it was never swept."""
    return {name: await sweeps.latest(name) for name in integrations}


def finding_view(finding: Finding) -> dict[str, Any]:
    cid = finding.customer_id
    return {
        "email": finding.email,
        "customer_id": cid,
        "href": f"/customers/{quote(cid, safe='')}" if cid else None,
        "kinds": [k.value for k in finding.kinds],
        "actions": list(finding.actions),
        "outcome": finding.outcome,
        "holds": list(finding.holds),
    }


def _counts(known: list[str], found: dict[str, int]) -> list[tuple[str, int]]:
    """Every known name (0 when absent) in its order, then any other the record carries."""
    return [(k, found.get(k, 0)) for k in known] + sorted(
        (k, v) for k, v in found.items() if k not in known
    )


def sweep_view(
    integration: str, record: SweepRecord | None, queued: SweepRecord | None = None
) -> dict[str, Any]:
    view: dict[str, Any] = {
        "integration": integration,
        "name": integration_name(integration),
        "command": sweep_command(integration),
        "queued": None
        if queued is None
        else {
            "requested_by": queued.requested_by,
            "requested_at": iso_text(queued.requested_at),
            "dry_run": queued.dry_run,
        },
        "sweep": None,
    }
    if record is None:
        return view
    summary = record.summary
    findings = [finding_view(f) for f in record.findings]
    total = (summary.repaired + summary.reported) if summary else len(findings)
    outcomes: dict[str, int] = {}
    for f in findings:
        outcomes[f["outcome"]] = outcomes.get(f["outcome"], 0) + 1
    view["sweep"] = {
        "sweep_id": record.sweep_id,
        "requested_by": record.requested_by,
        "requested_at": iso_text(record.requested_at),
        "started_at": iso_text(record.started_at),
        "finished_at": iso_text(record.finished_at),
        "owner": record.owner,
        "dry_run": record.dry_run,
        "checked": summary.checked if summary else record.progress.checked,
        "pages": record.progress.pages,
        "calls": summary.calls if summary else record.progress.calls,
        "seconds": summary.seconds if summary else None,
        "found": [
            (kind, count, KIND_MEANING.get(kind, ""))
            for kind, count in _counts(
                [k.value for k in DriftKind], summary.found if summary else {}
            )
        ],
        "repaired": summary.repaired if summary else outcomes.get("repaired", 0),
        "reported": summary.reported if summary else len(findings) - outcomes.get("repaired", 0),
        "ticketed": outcomes.get("ticketed", 0),
        "invariants": _counts([i.value for i in Invariant], record.invariants),
        "skipped_in_flight": record.skipped_in_flight,
        "findings": findings,
        "findings_total": total,
        "findings_kept": FINDINGS_KEPT,
    }
    return view


async def reconcile_page(sweeps: SweepStore, integrations: list[str]) -> dict[str, Any]:
    latest = await latest_sweeps(sweeps, integrations)
    views = [
        sweep_view(name, latest[name], await sweeps.next_requested(name)) for name in integrations
    ]
    return {
        "sweeps": views,
        "interval_setting": INTERVAL_SETTING,
        "interval_default": INTERVAL_DEFAULT,
    }


def add_console_page(
    router: APIRouter,
    support: Support,
    require_admin: Callable[[Request], None],
    render: Callable[[Request, str, dict[str, Any]], HTMLResponse],
) -> None:
    """`GET /reconcile` on the console's router (behind the admin cookie, like every page)."""

    @router.get("/reconcile", response_class=HTMLResponse)
    async def reconcile(request: Request) -> HTMLResponse:
        require_admin(request)
        page = await reconcile_page(support.sweeps, support.integrations)
        return render(request, "reconcile.html", page)
