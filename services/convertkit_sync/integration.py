"""Kit sync: find the subscriber by email, read its tags by id, upsert only when missing, then
add and remove the tags the mapping manages."""

from __future__ import annotations

from typing import ClassVar

import httpx

from libs.contracts import CustomerEvent
from libs.runtime.errors import ProviderError
from libs.runtime.mapping import IntegrationMapping, load_section
from libs.runtime.worker_metrics import WorkerMetrics

from .client import KitClient, Upserted
from .plan import Action, AddTag, Current, Desired, RemoveTag, UpsertSubscriber, plan
from .settings import KitSettings

KitMapping = IntegrationMapping[list[str]]
SECTION = "convertkit"


def desired_state(event: CustomerEvent, mapping: KitMapping) -> Desired:
    tags = {
        t for rules in mapping.for_products(event.products) for t in rules.get(event.lifecycle, [])
    }
    managed = {t for tags_ in mapping.everything() for t in tags_}
    return Desired(event.email, first_name(event.name), frozenset(tags), frozenset(managed))


def first_name(name: str | None) -> str | None:
    """Kit has one built-in name field, `first_name`."""
    parts = (name or "").split()
    return parts[0] if parts else None


class KitIntegration:
    name: ClassVar[str] = "convertkit"

    def __init__(
        self,
        settings: KitSettings,
        metrics: WorkerMetrics | None = None,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        # `transport` lets tests run the client against the sandbox app in-process.
        self.settings = settings
        self.mapping: KitMapping = load_section(settings.mapping_file, SECTION, KitMapping)
        self._http = KitClient.make_http(
            settings.kit_base_url,
            settings.kit_api_key.get_secret_value(),
            settings.http_timeout_seconds,
            transport,
        )
        self.client = KitClient(self._http, metrics)

    async def current_state(self, desired: Desired) -> Current:
        subscriber_id = await self.client.find_subscriber(desired.email)
        if subscriber_id is None:
            return Current(subscriber_id=None, tags=frozenset())
        return Current(subscriber_id, await self.held_tags(subscriber_id, desired))

    async def held_tags(self, subscriber_id: int, desired: Desired) -> frozenset[str]:
        """Of the managed tags, those the subscriber carries (read by id: consistent)."""
        names = {n.casefold() for n in await self.client.subscriber_tags(subscriber_id)}
        return frozenset(t for t in desired.managed_tags if t.casefold() in names)

    async def sync(self, event: CustomerEvent, *, dry_run: bool) -> list[str]:
        desired = desired_state(event, self.mapping)
        actions = plan(desired, await self.current_state(desired))
        if dry_run:
            return [str(a) for a in actions]
        done: list[str] = []
        while actions:
            action = actions.pop(0)
            try:
                upserted = await self.execute(action, desired.email)
            except ProviderError as error:
                error.action = str(action)
                raise
            done.append(str(action))
            if upserted is not None and not upserted.created:
                # The email lookup lagged behind Kit: the subscriber existed and may carry tags
                # to remove. Plan the rest again from the tags Kit holds for that id.
                current = Current(upserted.id, await self.held_tags(upserted.id, desired))
                actions = plan(desired, current)
        return done

    async def execute(self, action: Action, email: str) -> Upserted | None:
        match action:
            case UpsertSubscriber(email=address, first_name=name):
                return await self.client.upsert_subscriber(address, name)
            case AddTag(tag=tag):
                await self.client.add_tag(tag, email)
            case RemoveTag(tag=tag):
                await self.client.remove_tag(tag, email)
        return None

    async def aclose(self) -> None:
        await self._http.aclose()
