"""Circle sync: search by email, create only when missing, grant and revoke access groups, and
revoke what members at the customer's earlier addresses still hold."""

from __future__ import annotations

from typing import Any, ClassVar

import httpx

from libs.contracts import CustomerEvent
from libs.runtime.mapping import IntegrationMapping
from libs.runtime.plans import names
from libs.runtime.provider_http import bearer_client
from libs.runtime.provider_integration import ProviderIntegration, attempt
from libs.runtime.worker_metrics import WorkerMetrics

from .client import CircleClient
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


class CircleIntegration(ProviderIntegration[CircleSettings, CircleMapping]):
    name: ClassVar[str] = "circle"
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

    async def current_state(self, desired: Desired) -> Current:
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

    async def sync(self, event: CustomerEvent, *, dry_run: bool) -> list[str]:
        desired = self.desired(event)
        actions = plan(desired, await self.current_state(desired))
        if not dry_run:
            for action in actions:
                await attempt(action, self.execute(action, desired.email))
        return [str(a) for a in actions]

    async def execute(self, action: Action, email: str) -> None:
        match action:
            case CreateMember(email=address, name=name):
                await self.client.create_member(address, name, self.settings.circle_skip_invitation)
            case AddToAccessGroup(group=group):
                await self.client.add_to_group(group, email)
            case RemoveFromAccessGroup(group=group):
                await self.client.remove_from_group(group, email)
            case RemoveFromPreviousMember(email=previous, group=group):
                await self.client.remove_from_group(group, previous, gone_ok=True)
