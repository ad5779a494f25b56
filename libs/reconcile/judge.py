"""Whether one customer's provider record has drifted, and what would repair it. Pure.

The view a sweep read replaces, in the worker's ledger, what the ledger believed the provider
holds (`observed_ledger`); the integration's own plan against that corrected ledger is then the
repair. No actions and a corrected ledger that differs: only the ledger was out of date (fix it,
call nothing). A customer whose newest state has not reached the worker yet, or whose record the
worker wrote moments ago (a provider's lists lag its writes), is left for the next sweep."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from libs.contracts import CustomerEvent
from libs.runtime.dedupe import Applied

from .ports import Auditable, KnownCustomer, ProviderView
from .records import DriftKind, Invariant


@dataclass(frozen=True)
class Verdict:
    kinds: frozenset[DriftKind] = frozenset()
    invariants: frozenset[Invariant] = frozenset()
    #: the repair's plan (action names)
    actions: tuple[str, ...] = ()
    #: the corrected ledger to store (None: the ledger is right)
    ledger: dict[str, Any] | None = None
    #: not judged: the customer's newest state is still on its way, or was written just now
    in_flight: bool = False

    @property
    def drifted(self) -> bool:
        return bool(self.kinds)

    @property
    def needs_repair(self) -> bool:
        return bool(self.actions)


IN_FLIGHT = Verdict(in_flight=True)


def judge(
    auditor: Auditable,
    known: KnownCustomer,
    seen: Applied,
    view: ProviderView,
    *,
    settled_before: datetime | None = None,
) -> Verdict:
    event: CustomerEvent | None = known.event
    if event is None:
        return Verdict()  # a lead nothing was published for: no worker holds anything of it
    if seen.version != known.version:
        return IN_FLIGHT  # its newest state is on its way (or failed: an incident covers it)
    if settled_before is not None and seen.at is not None and seen.at > settled_before:
        return IN_FLIGHT
    desired = auditor.desired(event)
    book = auditor.ledger_model.model_validate(seen.ledger or {})
    corrected = auditor.observed_ledger(desired, book, view)
    actions = list(auditor.plan(desired, corrected.current(desired)))
    state = corrected.model_dump(mode="json")
    ledger = state if state != book.model_dump(mode="json") else None
    if not actions:
        kinds = frozenset({DriftKind.LEDGER_OUT_OF_DATE}) if ledger is not None else frozenset()
        return Verdict(kinds=kinds, ledger=ledger)
    kinds_found, invariants = auditor.drift_of(event, actions)
    return Verdict(
        kinds=frozenset(kinds_found),
        invariants=frozenset(invariants),
        actions=tuple(str(a) for a in actions),
        ledger=ledger,
    )


def unknown_holders(view: ProviderView, claimed: set[str]) -> dict[str, tuple[str, ...]]:
    """Who holds a managed group or tag under an address no customer of ours has."""
    return {email: held for email, held in sorted(view.holders.items()) if email not in claimed}
