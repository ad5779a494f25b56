"""Kit sync: find the subscriber by email, read its tags by id, upsert only when missing (or move
the subscriber at an earlier address), then add and remove the tags the mapping manages."""

from __future__ import annotations

from typing import ClassVar

import httpx

from libs.contracts import CustomerEvent
from libs.runtime.errors import ProviderError
from libs.runtime.integration import desired_key
from libs.runtime.mapping import IntegrationMapping, load_section
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
from .settings import KitSettings

KitMapping = IntegrationMapping[list[str]]
SECTION = "convertkit"


def desired_state(event: CustomerEvent, mapping: KitMapping) -> Desired:
    tags = {
        t for rules in mapping.for_products(event.products) for t in rules.get(event.lifecycle, [])
    }
    managed = {t for tags_ in mapping.everything() for t in tags_}
    return Desired(
        event.email,
        first_name(event.name),
        frozenset(tags),
        frozenset(managed),
        event.previous_emails,
    )


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

    def desired_key(self, event: CustomerEvent) -> str:
        """What `sync` would establish, as a key: the worker skips an unchanged one."""
        return desired_key(desired_state(event, self.mapping))

    async def sync(self, event: CustomerEvent, *, dry_run: bool) -> list[str]:
        desired = desired_state(event, self.mapping)
        current = await self.current_state(desired)
        actions = plan(desired, current)
        if dry_run:
            return [str(a) for a in actions]
        done: list[str] = []
        while actions:
            action = actions.pop(0)
            try:
                found = await self.execute(action, desired)
            except ProviderError as error:
                error.action = str(action)
                raise
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

    async def aclose(self) -> None:
        await self._http.aclose()
