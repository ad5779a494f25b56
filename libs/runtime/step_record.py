"""A step's side of its customer's dedupe record: which ledger the step plans against, and the
unsettled mark it writes before its first provider write (`dedupe.unsettle`), so a step that
dies between a call and its record leaves the mark for the next one."""

from __future__ import annotations

from dataclasses import dataclass

from .dedupe import Applied, DedupeRecords, as_read, unsettle
from .ledger import Ledger


def ledger_for(seen: Applied, *, replay: bool, repair: bool = False) -> Ledger:
    """The ledger a step plans against. Trusted when it is the worker's own history: a customer
    no version was ever applied for (write first: events recorded as superseded or failed
    before any write leave nothing to know), or one whose record holds a ledger, unless a step
    began writing and never recorded what it did (`Applied.unsettled`: killed mid-step, the
    store gone, or an answer never received; a newer state may need that write undone, so
    believing the ledger could leave it in place). A replay, an unsettled record and a customer
    whose record predates the ledger read the provider first. A reconcile repair trusts the
    ledger: the sweep has just corrected it from what the provider holds."""
    if repair:
        return Ledger(dict(seen.ledger), trusted=True)
    known = seen.version == 0 or bool(seen.ledger)
    trusted = not replay and not seen.unsettled and known
    return Ledger(dict(seen.ledger), trusted=trusted)


@dataclass
class StepRecord:
    """The step's read of its record, moved on by the mark the step writes: the step's own
    record is then written from `seen` (one write, no second read)."""

    dedupe: DedupeRecords
    customer_id: str
    seen: Applied

    async def unsettle(self) -> None:
        """Before the step's first provider write: mark the record unsettled (already so:
        nothing to write)."""
        if self.seen.unsettled:
            return
        snapshot = as_read(self.customer_id, self.seen)
        updated = await self.dedupe.update(self.customer_id, unsettle, snapshot)
        if updated.after is not None:
            self.seen = updated.after
