"""Circle sync: plan against the ledger (what our writes established), create a member never
seen (the create answers "exists" with the member), grant and revoke access groups, and revoke
what members at the customer's earlier addresses still hold. Circle is read only when an answer
shows the ledger wrong, or for a replay."""

from __future__ import annotations

from typing import Any, ClassVar

import httpx

from libs.contracts import CustomerEvent
from libs.runtime.mapping import IntegrationMapping
from libs.runtime.plans import names
from libs.runtime.provider_http import bearer_client
from libs.runtime.provider_integration import ProviderIntegration
from libs.runtime.worker_metrics import WorkerMetrics

from .audit import CircleAudit
from .client import CircleClient
from .ledger import CircleLedger
from .plan import (
    Action,
    AddToAccessGroup,
    CreateMember,
    Current,
    Desired,
    PreviousMember,
    RemoveFromAccessGroup,
    RemoveFromPreviousMember,
    plan,
)
from .settings import CircleSettings

CircleMapping = IntegrationMapping[list[str]]


def desired_state(event: CustomerEvent, mapping: CircleMapping) -> Desired:
    groups = names(rules.get(event.lifecycle, []) for rules in mapping.for_products(event.products))
    return Desired(
        event.email, event.name, groups, names(mapping.everything()), event.previous_emails
    )


class CircleIntegration(CircleAudit, ProviderIntegration[CircleSettings, CircleMapping]):
    name: ClassVar[str] = "circle"
    ledger_model = CircleLedger
    mapping_model = CircleMapping

    def __init__(self, settings: CircleSettings, metrics: WorkerMetrics | None = None, **kw: Any):
        super().__init__(settings, metrics, **kw)
        self.client = CircleClient(self._http, metrics)

    def connect(
        self, settings: CircleSettings, transport: httpx.AsyncBaseTransport | None
    ) -> httpx.AsyncClient:
        token = settings.circle_token.get_secret_value()
        return bearer_client(
            settings.circle_base_url, token, settings.http_timeout_seconds, transport
        )

    async def current_state(self, desired: Desired, known: Any = None) -> Current:
        """What Circle holds, read (a replay, an unsettled record, or a customer older than the
        ledger). Circle's lookups are consistent: `known` is not needed."""
        member = await self.client.find_member(desired.email)
        held: set[str] = set()
        if member is not None:
            held = {
                g
                for g in sorted(desired.managed_groups)
                if await self.client.in_group(g, desired.email)
            }
        previous = await self.previous_members(desired, member)
        return Current(member is not None, frozenset(held), previous)

    async def previous_members(
        self, desired: Desired, member: dict[str, Any] | None
    ) -> tuple[PreviousMember, ...]:
        """Members at the customer's earlier addresses, with the managed groups they hold."""
        seen = {member.get("id")} if member is not None else set()
        found: list[PreviousMember] = []
        for email in desired.previous_emails:
            if email.lower() == desired.email.lower():
                continue
            old = await self.client.find_member(email)
            if old is None or old.get("id") in seen:
                continue
            seen.add(old.get("id"))
            names = {n.lower() for n in await self.client.member_group_names(int(old["id"]))}
            groups = frozenset(g for g in desired.managed_groups if g.lower() in names)
            found.append(PreviousMember(email, groups))
        return tuple(found)

    def desired(self, event: CustomerEvent) -> Desired:
        return desired_state(event, self.mapping)

    def plan(self, desired: Desired, current: Current) -> list[Action]:
        return plan(desired, current)

    async def execute(self, action: Action, desired: Desired, book: CircleLedger) -> bool:
        """Carry out one action and note in `book` what it established. True when Circle's
        answer showed the ledger wrong (the member existed, or is gone): plan again."""
        email = desired.email
        match action:
            case CreateMember(email=address, name=name):
                skip = self.settings.circle_skip_invitation
                created, member_id = await self.client.create_member(address, name, skip)
                if created:
                    book.hold(address, frozenset())
                    return False
                # It existed already: which of our groups it holds is one read by id.
                names = {n.lower() for n in await self.client.member_group_names(member_id)}
                book.hold(
                    address, frozenset(g for g in desired.managed_groups if g.lower() in names)
                )
                return True
            case AddToAccessGroup(group=group):
                if await self.client.add_to_group(group, email):
                    book.grant(email, group)
                    return False
                book.forget(email)  # the member is gone: create it again
                return True
            case RemoveFromAccessGroup(group=group):
                await self.client.remove_from_group(group, email, gone_ok=True)
                book.revoke(email, group)
            case RemoveFromPreviousMember(email=previous, group=group):
                await self.client.remove_from_group(group, previous, gone_ok=True)
                book.revoke(previous, group)
        return False
