"""One reconcile sweep of one integration: read the provider in pages, judge every canonical
customer against it (`judge.py`), and act — correct a ledger, queue a repair step, open a ticket
for drift a repair did not fix, report or remove unknown people — then record what it found.

Repairs are steps like any other: a `CustomerEvent` marked `repair` on the worker's replay topic,
deduplicated, versioned, paced, counted and failing into the incident path. The sweep writes the
corrected ledger first, so the step plans against what the provider really holds and spends only
the calls the repair needs (no read)."""

from __future__ import annotations

import dataclasses
import time
from collections import Counter
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from libs.contracts import SyncOutcome, SyncResult
from libs.runtime.clock import now
from libs.runtime.dedupe import Applied, DedupeRecords
from libs.runtime.integration import WorkerSettings
from libs.runtime.logging import email_hash, get_logger
from libs.runtime.pacing import BACKGROUND, prioritised

from .budget import PageBudget, monthly_allowance, sweep_pacer
from .judge import Verdict, judge, unknown_holders
from .messages import drift_failure, repair_event
from .metrics import ReconcileMetrics
from .ports import Auditable, CanonicalStates, KnownCustomer, SweepOutlet
from .records import (
    FINDINGS_KEPT,
    DriftKind,
    Finding,
    Invariant,
    Progress,
    SweepRecord,
    SweepState,
    summarize,
)
from .store import DriftMemory, SweepStore

log = get_logger()

#: canonical customers read per page (and worker records per read)
CUSTOMERS_PER_PAGE = 500
#: the sweep's progress is written at most this often
PROGRESS_EVERY_SECONDS = 1.0


@dataclass
class SweepContext:
    auditor: Auditable
    settings: WorkerSettings
    dedupe: DedupeRecords
    canonical: CanonicalStates
    store: SweepStore
    outlet: SweepOutlet
    metrics: ReconcileMetrics | None = None


class _Tally:
    """What the sweep saw so far, reported as progress."""

    def __init__(self, ctx: SweepContext, record: SweepRecord) -> None:
        self.ctx, self.record = ctx, record
        self.progress = Progress(phase="reading")
        self.budget: PageBudget | None = None
        self._written = 0.0

    async def report(self, force: bool = False, **changes: Any) -> None:
        calls = self.budget.calls if self.budget else 0
        self.progress = self.progress.model_copy(update={"calls": calls, **changes})
        if force or time.monotonic() - self._written >= PROGRESS_EVERY_SECONDS:
            self._written = time.monotonic()
            await self.ctx.store.progress(self.record.sweep_id, self.progress)

    async def page_read(self) -> None:
        await self.report(pages=self.progress.pages + 1)


async def run_sweep(ctx: SweepContext, record: SweepRecord) -> SweepRecord:
    """Run `record` (already taken: state running) to its end; returns the finished record."""
    name, started = ctx.auditor.name, time.monotonic()
    tally = _Tally(ctx, record)
    month = now().replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    tally.budget = PageBudget(
        sweep_pacer(ctx.settings),
        allowance=monthly_allowance(ctx.settings),
        spent_before=await ctx.store.calls_since(name, month) - record.progress.calls,
        on_call=tally.page_read,
    )
    with prioritised(BACKGROUND):  # the worker's steps go first
        view = await ctx.auditor.observe(tally.budget)
    await tally.report(force=True, phase="comparing")
    memory = await ctx.store.drift(name)
    findings: list[Finding] = []
    invariants: Counter[str] = Counter({i.value: 0 for i in Invariant})
    claimed: set[str] = set()
    checked = in_flight = 0
    settled_before = now() - timedelta(seconds=ctx.settings.reconcile_settle_seconds)
    async for page in ctx.canonical.pages(CUSTOMERS_PER_PAGE):
        applied = await ctx.dedupe.get_many(k.customer_id for k in page)
        for known in page:
            if known.event is not None:
                claimed.update(e.casefold() for e in known.emails)
            seen = applied.get(known.customer_id) or Applied()
            verdict = judge(ctx.auditor, known, seen, view, settled_before=settled_before)
            checked += 1
            if verdict.in_flight:
                in_flight += 1
                continue
            memo = memory.pop(known.customer_id, None)
            if not verdict.drifted:
                if memo is not None and not record.dry_run:
                    await _drift_gone(ctx, record, known, memo)
                continue
            outcome = await _act(ctx, record, known, seen, verdict, memo)
            if outcome != "repaired":  # it stands: reported, ticketed, or its repair pending
                invariants.update(i.value for i in verdict.invariants)
            event = known.event
            assert event is not None  # judged: a published customer
            findings.append(
                Finding(
                    customer_id=known.customer_id,
                    email=event.email,
                    kinds=tuple(sorted(verdict.kinds)),
                    actions=verdict.actions,
                    outcome=outcome,
                )
            )
        await tally.report(checked=checked)
    for email, held in unknown_holders(view, claimed).items():
        finding = await _unknown(ctx, record, email, held)
        if finding.outcome != "repaired" and ctx.auditor.grants_access(held):
            invariants[Invariant.UNKNOWN_WITH_ACCESS.value] += 1
        findings.append(finding)
    seconds = time.monotonic() - started
    summary = summarize(findings, checked=checked, calls=tally.budget.calls, seconds=seconds)
    await tally.report(force=True, phase="done", checked=checked)
    finished = record.model_copy(
        update={
            "state": SweepState.DONE,
            "finished_at": now(),
            "progress": tally.progress,
            "summary": summary,
            "findings": tuple(findings[:FINDINGS_KEPT]),
            "invariants": dict(invariants),
            "skipped_in_flight": in_flight,
        }
    )
    await ctx.store.save(finished)
    if ctx.metrics is not None:
        ctx.metrics.observed(name, finished)
    log.info(
        "reconcile_sweep_done",
        integration=name,
        sweep_id=record.sweep_id,
        dry_run=record.dry_run,
        checked=checked,
        found=sum(summary.found.values()),
        repaired=summary.repaired,
        calls=summary.calls,
        seconds=summary.seconds,
    )
    return finished


async def _act(
    ctx: SweepContext,
    record: SweepRecord,
    known: KnownCustomer,
    seen: Applied,
    verdict: Verdict,
    memo: DriftMemory | None,
) -> str:
    """Correct the ledger and queue the repair, or ticket drift a repair did not fix.
    Returns the finding's outcome: repaired / reported / ticketed."""
    if record.dry_run:
        return "reported"
    name, cid = ctx.auditor.name, known.customer_id
    if memo is not None and memo.ticketed_at is not None:
        return "ticketed"  # the ticket is open; a later sweep that finds it gone resolves it
    if memo is not None and memo.repair_event_id and seen.outcome_of(memo.repair_event_id):
        # the repair ran, and the drift is back (or never left): a person decides
        await ctx.outlet.ticket(drift_failure(record, known, verdict, memo))
        ticketed = memo.model_copy(update={"ticketed_at": now()})
        await ctx.store.remember(name, cid, ticketed)
        return "ticketed"
    if memo is not None and memo.repair_event_id:
        return "reported"  # its repair has not run yet
    if verdict.ledger is not None:
        await _correct_ledger(ctx.dedupe, cid, known.version, verdict.ledger)
    if not verdict.needs_repair:
        return "repaired"  # only the ledger was out of date: fixed, no call
    event = repair_event(known, record.sweep_id)
    await ctx.outlet.repair(event)
    if ctx.metrics is not None:
        ctx.metrics.repairs.labels(name).inc()
    first = memo.first_found_at if memo is not None else now()
    await ctx.store.remember(
        name,
        cid,
        DriftMemory(
            kinds=tuple(sorted(verdict.kinds)),
            actions=verdict.actions,
            first_found_at=first,
            repaired_at=now(),
            repair_event_id=event.event_id,
            version=known.version,
        ),
    )
    return "repaired"


async def _correct_ledger(
    dedupe: DedupeRecords, customer_id: str, version: int, ledger: dict[str, Any]
) -> None:
    """Store what the provider really holds as the worker's ledger, unless the worker applied a
    newer state meanwhile (its own ledger is then the newer truth)."""

    def change(current: Applied | None) -> Applied | None:
        if current is None or current.version != version:
            return current
        # what the provider holds now: whatever an interrupted step left unsettled is known
        return dataclasses.replace(current, ledger=ledger, unsettled=False)

    await dedupe.update(customer_id, change)


async def _drift_gone(
    ctx: SweepContext, record: SweepRecord, known: KnownCustomer, memo: DriftMemory
) -> None:
    """A later sweep finds the drift gone: forget it, and resolve its ticket if it had one."""
    name = ctx.auditor.name
    if memo.ticketed_at is not None:
        await ctx.outlet.resolved(
            SyncResult(
                event_id=f"reconcile:{record.sweep_id}:{known.customer_id}",
                customer_id=known.customer_id,
                version=known.version,
                integration=name,
                outcome=SyncOutcome.SYNCED,
                actions=("drift_gone",),
                replay_id=record.sweep_id,
                at=now(),
            )
        )
    await ctx.store.forget(name, known.customer_id)


async def _unknown(
    ctx: SweepContext, record: SweepRecord, email: str, held: tuple[str, ...]
) -> Finding:
    """Someone who is no customer holds a managed group or tag: reported, or (the setting says
    `remove`) the managed groups/tags are taken away."""
    kinds = (DriftKind.UNKNOWN_PERSON,)
    if record.dry_run or ctx.settings.reconcile_unknown != "remove":
        log.info(
            "reconcile_unknown_person",
            integration=ctx.auditor.name,
            email_hash=email_hash(email),
            holds=",".join(held),
        )
        return Finding(email=email, kinds=kinds, holds=held, outcome="reported")
    with prioritised(BACKGROUND):
        done = await ctx.auditor.remove_unknown(email, held)
    return Finding(email=email, kinds=kinds, holds=held, actions=tuple(done), outcome="repaired")
