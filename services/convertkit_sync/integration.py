"""Kit sync: find the subscriber by email, read its tags by id, upsert only when missing (or move
the subscriber at an earlier address), then add and remove the tags the mapping manages."""

from __future__ import annotations

from typing import Any, ClassVar

import httpx

from libs.contracts import CustomerEvent
from libs.runtime.mapping import IntegrationMapping
from libs.runtime.plans import names
from libs.runtime.provider_integration import ProviderIntegration, attempt
from libs.runtime.worker_metrics import WorkerMetrics

from .client import KitClient
from .plan import (
    Action,
    AddTag,
    ChangeEmail,
    Current,
    Desired,
    PreviousSubscriber,
    RemovePreviousTag,
    RemoveTag,
    UpsertSubscriber,
    plan,
)
from .settings import ConvertkitSettings

ConvertkitMapping = IntegrationMapping[list[str]]
SECTION = "convertkit"


def desired_state(event: CustomerEvent, mapping: ConvertkitMapping) -> Desired:
    tags = names(rules.get(event.lifecycle, []) for rules in mapping.for_products(event.products))
    managed = names(mapping.everything())
    return Desired(event.email, first_name(event.name), tags, managed, event.previous_emails)


def first_name(name: str | None) -> str | None:
    """Kit has one built-in name field, `first_name`."""
    parts = (name or "").split()
    return parts[0] if parts else None


class ConvertkitIntegration(ProviderIntegration[ConvertkitSettings, ConvertkitMapping]):
    name: ClassVar[str] = SECTION
    mapping_model = ConvertkitMapping

    def __init__(
        self, settings: ConvertkitSettings, metrics: WorkerMetrics | None = None, **kw: Any
    ):
        super().__init__(settings, metrics, **kw)
        self.client = KitClient(self._http, metrics)

    def connect(
        self, settings: ConvertkitSettings, transport: httpx.AsyncBaseTransport | None
    ) -> httpx.AsyncClient:
        key = settings.kit_api_key.get_secret_value()
        return KitClient.make_http(
            settings.kit_base_url, key, settings.http_timeout_seconds, transport
        )

    async def current_state(self, desired: Desired) -> Current:
        subscriber_id = await self.client.find_subscriber(desired.email)
        tags = frozenset[str]()
        if subscriber_id is not None:
            tags = await self.held_tags(subscriber_id, desired)
        return Current(subscriber_id, tags, await self.previous(desired, subscriber_id))

    async def previous(
        self, desired: Desired, subscriber_id: int | None
    ) -> tuple[PreviousSubscriber, ...]:
        """Subscribers at the customer's earlier addresses. Kit's list lags a change of address
        too, so a moved subscriber may still turn up under its old one: the same id as the one
        found under the new address is skipped, and moving it again is harmless."""
        seen = {subscriber_id}
        found: list[PreviousSubscriber] = []
        for email in desired.previous_emails:
            if email.casefold() == desired.email.casefold():
                continue
            previous_id = await self.client.find_subscriber(email)
            if previous_id is None or previous_id in seen:
                continue
            seen.add(previous_id)
            found.append(
                PreviousSubscriber(previous_id, await self.held_tags(previous_id, desired))
            )
        return tuple(found)

    async def held_tags(self, subscriber_id: int, desired: Desired) -> frozenset[str]:
        """Of the managed tags, those the subscriber carries (read by id: consistent)."""
        names = {n.casefold() for n in await self.client.subscriber_tags(subscriber_id)}
        return frozenset(t for t in desired.managed_tags if t.casefold() in names)

    def desired(self, event: CustomerEvent) -> Desired:
        return desired_state(event, self.mapping)

    async def sync(self, event: CustomerEvent, *, dry_run: bool) -> list[str]:
        desired = self.desired(event)
        current = await self.current_state(desired)
        actions = plan(desired, current)
        if dry_run:
            return [str(a) for a in actions]
        done: list[str] = []
        while actions:
            action = actions.pop(0)
            found = await attempt(action, self.execute(action, desired))
            if found is not None and isinstance(action, ChangeEmail):
                done.extend(("change_email:taken", "upsert_subscriber"))
            else:
                done.append(str(action))
            if found is not None:
                # Kit's answer shows the email lookup lagged behind: a subscriber has the
                # address already and may carry tags to remove. Plan the rest again from the
                # tags Kit holds for that id.
                held = await self.held_tags(found, desired)
                actions = plan(desired, Current(found, held, current.previous))
        return done

    async def execute(self, action: Action, desired: Desired) -> int | None:
        """Carry out one action. Returns the id of a subscriber the lookup missed, if Kit's
        answer revealed one (the rest of the plan is then made again)."""
        email = desired.email
        match action:
            case UpsertSubscriber(email=address, first_name=name):
                upserted = await self.client.upsert_subscriber(address, name)
                return None if upserted.created else upserted.id
            case ChangeEmail(subscriber_id=subscriber_id, email=address):
                if not await self.client.change_email(subscriber_id, address):
                    # The new address has its own subscriber: keep both, tag that one.
                    return (await self.client.upsert_subscriber(address, desired.first_name)).id
            case AddTag(tag=tag):
                await self.client.add_tag(tag, email)
            case RemoveTag(tag=tag):
                await self.client.remove_tag(tag, email)
            case RemovePreviousTag(subscriber_id=subscriber_id, tag=tag):
                await self.client.remove_tag_by_id(tag, subscriber_id)
        return None
