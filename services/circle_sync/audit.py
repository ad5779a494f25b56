"""What a reconcile sweep asks of Circle (`libs/reconcile`): the members of each managed access
group, a page of 100 at a time, and what the differences mean. Circle's membership records carry
the member's id but no address, so the community's member list (100 a page) gives the
addresses: 10,000 paying members of a 10,000-member community cost about 200 calls, never one
per customer."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from libs.contracts import CustomerEvent, has_access
from libs.reconcile.ports import PageTurns, ProviderView
from libs.reconcile.records import DriftKind, Invariant
from libs.runtime.plans import names

from .client import CircleClient
from .ledger import CircleLedger
from .plan import AddToAccessGroup, CreateMember, Desired


@dataclass
class CircleView(ProviderView):
    #: casefolded address -> the managed access groups its member is in
    groups: dict[str, set[str]] = field(default_factory=dict)


class CircleAudit:
    """Mixed into `CircleIntegration`."""

    client: CircleClient
    mapping: Any

    async def observe(self, turns: PageTurns) -> CircleView:
        held: dict[int, set[str]] = {}
        for group in sorted(names(self.mapping.everything())):
            if not self.client.knows_group(group):
                await turns.turn()
                await self.client.group_id(group)
            page, more = 1, True
            while more:
                await turns.turn()
                ids, more = await self.client.group_member_ids(group, page)
                for member_id in ids:
                    held.setdefault(member_id, set()).add(group)
                page += 1
        view = CircleView()
        page, more = 1, bool(held)
        while more:
            await turns.turn()
            addresses, more = await self.client.member_addresses(page)
            for member_id, email in addresses.items():
                if member_id in held and email:
                    view.groups.setdefault(email.casefold(), set()).update(held[member_id])
            page += 1
        view.holders = {email: tuple(sorted(groups)) for email, groups in view.groups.items()}
        return view

    def observed_ledger(
        self, desired: Desired, book: CircleLedger, view: ProviderView
    ) -> CircleLedger:
        assert isinstance(view, CircleView)
        corrected = CircleLedger(members=dict(book.members))
        addresses = {desired.email.casefold(), *(e.casefold() for e in desired.previous_emails)}
        for address in addresses | set(corrected.members):
            held = view.groups.get(address, set()) & desired.managed_groups
            if address in corrected.members or held:  # a member holding a group exists
                corrected.members[address] = sorted(held)
        return corrected

    def drift_of(
        self, event: CustomerEvent, actions: Sequence[Any]
    ) -> tuple[set[DriftKind], set[Invariant]]:
        kinds: set[DriftKind] = set()
        for action in actions:
            granting = isinstance(action, (CreateMember, AddToAccessGroup))
            kinds.add(DriftKind.MISSING_ACCESS if granting else DriftKind.EXTRA_ACCESS)
        paying = has_access(event.lifecycle)
        invariants: set[Invariant] = set()
        if paying and DriftKind.MISSING_ACCESS in kinds:
            invariants.add(Invariant.PAYING_WITHOUT_ACCESS)
        if not paying and DriftKind.EXTRA_ACCESS in kinds:
            invariants.add(Invariant.ACCESS_WITHOUT_PAYMENT)
        return kinds, invariants

    def grants_access(self, holds: tuple[str, ...]) -> bool:
        paying = {n.casefold() for n in names(self.mapping.granted_while(has_access))}
        return any(h.casefold() in paying for h in holds)

    async def remove_unknown(self, email: str, holds: tuple[str, ...]) -> list[str]:
        done = []
        for group in holds:
            await self.client.remove_from_group(group, email, gone_ok=True)
            done.append(f"remove_from_access_group:{group}")
        return done
