"""What a sweep talks to: the canonical state (ingest's records, through its read model), the
integration it audits (a provider folder's `ProviderIntegration`, with three more methods), and
where repairs, tickets and "drift gone" notes go (the worker's Kafka topics)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from libs.contracts import CustomerEvent, SyncFailure, SyncResult

from .records import DriftKind, Invariant


@dataclass(frozen=True)
class KnownCustomer:
    """One canonical customer as a sweep needs it."""

    customer_id: str
    version: int
    #: the address and the earlier ones: a provider record under any of them is this customer's
    emails: tuple[str, ...]
    #: the customer's whole desired state (None for a lead nothing was ever published for)
    event: CustomerEvent | None


class CanonicalStates(Protocol):
    def pages(self, size: int) -> AsyncIterator[list[KnownCustomer]]:
        """Every customer once, `size` at a time, in no set order (one pass over the store:
        paging by id made FerretDB scan the whole collection for every page)."""
        ...


@dataclass
class ProviderView:
    """What a sweep read from a provider about the things the mapping manages."""

    #: casefolded address -> the managed groups/tags/properties held there (who holds anything)
    holders: dict[str, tuple[str, ...]] = field(default_factory=dict)


class PageTurns(Protocol):
    """A sweep's budget: await `turn()` before each provider call of the sweep."""

    async def turn(self) -> None: ...


class Auditable(Protocol):
    """A provider integration that a sweep can audit (`ProviderIntegration` plus these)."""

    name: str
    ledger_model: type[Any]

    def desired(self, event: CustomerEvent) -> Any: ...

    def plan(self, desired: Any, current: Any) -> Sequence[Any]: ...

    async def observe(self, turns: PageTurns) -> ProviderView:
        """Page through what the provider holds of the managed groups/tags/properties."""
        ...

    def observed_ledger(self, desired: Any, book: Any, view: ProviderView) -> Any:
        """The ledger as the provider really is for this customer (pure): `book` with what
        the view shows in place of what the ledger believed."""
        ...

    def drift_of(
        self, event: CustomerEvent, actions: Sequence[Any]
    ) -> tuple[set[DriftKind], set[Invariant]]:
        """What the repair `actions` say about the drift, and the invariants it breaks."""
        ...

    def grants_access(self, holds: tuple[str, ...]) -> bool:
        """Whether holding these managed groups/tags is access only paying customers get."""
        ...

    async def remove_unknown(self, email: str, holds: tuple[str, ...]) -> list[str]:
        """Take the managed groups/tags from someone who is no customer (the setting
        `SWITCHBOARD_RECONCILE_UNKNOWN=remove`); the actions done."""
        ...


class SweepOutlet(Protocol):
    """Where a sweep's decisions go: the worker's own replay topic (a repair is a step like
    any other), its failure topic (a ticket) and the results topic (the drift is gone)."""

    async def repair(self, event: CustomerEvent) -> None: ...

    async def ticket(self, failure: SyncFailure) -> None: ...

    async def resolved(self, result: SyncResult) -> None: ...
