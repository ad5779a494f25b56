"""The sweep outlet's fake: it keeps what a sweep sent (repairs, tickets, "drift gone") instead
of publishing it, for tests and the sweep benchmark."""

from __future__ import annotations

from dataclasses import dataclass, field

from libs.contracts import CustomerEvent, SyncFailure, SyncResult


@dataclass
class RecordingOutlet:
    repairs: list[CustomerEvent] = field(default_factory=list)
    tickets: list[SyncFailure] = field(default_factory=list)
    resolved_results: list[SyncResult] = field(default_factory=list)

    async def repair(self, event: CustomerEvent) -> None:
        self.repairs.append(event)

    async def ticket(self, failure: SyncFailure) -> None:
        self.tickets.append(failure)

    async def resolved(self, result: SyncResult) -> None:
        self.resolved_results.append(result)
