"""What a sweep found and did: drift kinds, business invariants, findings, the summary (the
`switchboard reconcile --json` contract) and the sweep's record. Pure: no I/O."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Final

from pydantic import BaseModel, ConfigDict, Field


class DriftKind(StrEnum):
    MISSING_ACCESS = "missing_access"  # should hold a managed group, does not
    EXTRA_ACCESS = "extra_access"  # holds a managed group it should not: a revenue leak
    STALE_TAG = "stale_tag"  # carries the wrong managed tags
    WRONG_STAGE = "wrong_stage"  # the CRM's stage or lifecycle property disagrees
    UNKNOWN_PERSON = "unknown_person"  # holds a managed group or tag, and is no customer
    #: the provider matches the desired state and the worker's ledger does not: the ledger is
    #: corrected, nothing is called
    LEDGER_OUT_OF_DATE = "ledger_out_of_date"


class Invariant(StrEnum):
    PAYING_WITHOUT_ACCESS = "paying_without_access"
    ACCESS_WITHOUT_PAYMENT = "access_without_payment"
    CANCELED_STILL_TAGGED = "canceled_still_tagged"
    CRM_STAGE_MISMATCH = "crm_stage_mismatch"
    UNKNOWN_WITH_ACCESS = "unknown_with_access"


class SweepState(StrEnum):
    REQUESTED = "requested"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    #: not run: its share of the provider's monthly quota is spent, or the integration is off
    SKIPPED = "skipped"

    @property
    def finished(self) -> bool:
        return self in (SweepState.DONE, SweepState.FAILED, SweepState.SKIPPED)


#: findings kept on a sweep's record (the console lists them); the counts cover all of them
FINDINGS_KEPT: Final = 200


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True)


class Finding(_Frozen):
    """One person whose provider record differs from what it should be."""

    #: None for an unknown person (no customer of ours)
    customer_id: str | None = None
    email: str
    kinds: tuple[DriftKind, ...]
    #: what makes it right (the repair step's plan), or what was removed for an unknown person
    actions: tuple[str, ...] = ()
    #: repaired: a repair step was queued (or the ledger corrected); reported: only reported
    #: (a dry run, an unknown person, or drift a repair did not fix: then a ticket)
    outcome: str = "reported"
    #: what the provider holds of the managed groups/tags (for unknown people)
    holds: tuple[str, ...] = ()


class SweepSummary(_Frozen):
    """One integration's line of `switchboard reconcile --json` (DESIGN.md, "Reconcile")."""

    checked: int = 0
    found: dict[str, int] = Field(default_factory=lambda: {k.value: 0 for k in DriftKind})
    repaired: int = 0
    reported: int = 0
    calls: int = 0
    seconds: float = 0.0

    def contract(self) -> dict[str, object]:
        return self.model_dump(mode="json")


class Progress(_Frozen):
    pages: int = 0
    calls: int = 0
    #: canonical customers compared so far
    checked: int = 0
    #: which part runs: reading the provider, comparing, done
    phase: str = "waiting"


class SweepRecord(_Frozen):
    sweep_id: str
    integration: str
    dry_run: bool = False
    #: `schedule` or `cli`
    requested_by: str = "schedule"
    state: SweepState = SweepState.REQUESTED
    requested_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None
    #: the worker replica that runs it
    owner: str | None = None
    progress: Progress = Progress()
    summary: SweepSummary | None = None
    findings: tuple[Finding, ...] = ()
    #: broken business invariants the sweep left standing (a repaired one is not counted: its
    #: repair step makes it right, or fails into a ticket)
    invariants: dict[str, int] = {}
    #: customers left out: their newest state is still on its way to the worker (or failed,
    #: which an incident already covers), or the worker wrote them moments ago
    skipped_in_flight: int = 0
    #: why it failed or was skipped
    reason: str | None = None


def summarize(findings: list[Finding], *, checked: int, calls: int, seconds: float) -> SweepSummary:
    found = {k.value: 0 for k in DriftKind}
    for finding in findings:
        for kind in finding.kinds:
            found[kind.value] += 1
    repaired = sum(1 for f in findings if f.outcome == "repaired")
    return SweepSummary(
        checked=checked,
        found=found,
        repaired=repaired,
        reported=len(findings) - repaired,
        calls=calls,
        seconds=round(seconds, 3),
    )
