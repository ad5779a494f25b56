"""Circle sync: search by email, create only when missing, grant and revoke access groups."""

from __future__ import annotations

from typing import ClassVar

from libs.contracts import CustomerEvent
from libs.runtime.errors import ProviderError
from libs.runtime.mapping import IntegrationMapping, load_section
from libs.runtime.worker_metrics import WorkerMetrics

from .client import CircleClient
from .plan import (
    Action,
    AddToAccessGroup,
    CreateMember,
    Current,
    Desired,
    RemoveFromAccessGroup,
    plan,
)
from .settings import CircleSettings

CircleMapping = IntegrationMapping[list[str]]


def desired_state(event: CustomerEvent, mapping: CircleMapping) -> Desired:
    groups = {
        g for rules in mapping.for_products(event.products) for g in rules.get(event.lifecycle, [])
    }
    managed = {g for groups_ in mapping.everything() for g in groups_}
    return Desired(event.email, event.name, frozenset(groups), frozenset(managed))


class CircleIntegration:
    name: ClassVar[str] = "circle"

    def __init__(self, settings: CircleSettings, metrics: WorkerMetrics | None = None) -> None:
        self.settings = settings
        self.mapping: CircleMapping = load_section(settings.mapping_file, "circle", CircleMapping)
        self._http = CircleClient.make_http(
            settings.circle_base_url,
            settings.circle_token.get_secret_value(),
            settings.http_timeout_seconds,
        )
        self.client = CircleClient(self._http, metrics)

    async def current_state(self, desired: Desired) -> Current:
        member = await self.client.find_member(desired.email)
        if member is None:
            return Current(member_exists=False, access_groups=frozenset())
        held = {
            g
            for g in sorted(desired.managed_groups)
            if await self.client.in_group(g, desired.email)
        }
        return Current(member_exists=True, access_groups=frozenset(held))

    async def sync(self, event: CustomerEvent, *, dry_run: bool) -> list[str]:
        desired = desired_state(event, self.mapping)
        actions = plan(desired, await self.current_state(desired))
        if not dry_run:
            for action in actions:
                try:
                    await self.execute(action, desired.email)
                except ProviderError as error:
                    error.action = str(action)
                    raise
        return [str(a) for a in actions]

    async def execute(self, action: Action, email: str) -> None:
        match action:
            case CreateMember(email=address, name=name):
                await self.client.create_member(address, name, self.settings.circle_skip_invitation)
            case AddToAccessGroup(group=group):
                await self.client.add_to_group(group, email)
            case RemoveFromAccessGroup(group=group):
                await self.client.remove_from_group(group, email)

    async def aclose(self) -> None:
        await self._http.aclose()
