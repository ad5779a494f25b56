"""Kit sync: plan against the ledger (what our writes established), upsert a subscriber never
seen (the answer gives its id, and says whether it existed: then its tags are read by id), move
the subscriber at an earlier address by id, then add and remove the tags the mapping manages.
Kit's lagging list endpoints are read only for a replay or a customer older than the ledger."""

from __future__ import annotations

from typing import Any, ClassVar

import httpx

from libs.contracts import CustomerEvent
from libs.runtime.errors import PermanentProviderError
from libs.runtime.mapping import IntegrationMapping
from libs.runtime.plans import names
from libs.runtime.provider_integration import ProviderIntegration
from libs.runtime.worker_metrics import WorkerMetrics

from .audit import KitAudit
from .client import KitClient
from .ledger import KitLedger
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


class ConvertkitIntegration(KitAudit, ProviderIntegration[ConvertkitSettings, ConvertkitMapping]):
    name: ClassVar[str] = SECTION
    ledger_model = KitLedger
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

    async def current_state(self, desired: Desired, known: KitLedger | None = None) -> Current:
        """What Kit holds. Kit's lookups by address read a list that lags writes (up to
        minutes): a subscriber the ledger `known` names for an address is read by id instead
        (consistent), and only an address it names none for is looked up."""
        addresses = await self.known_addresses(known)
        subscriber_id = addresses.get(desired.email.casefold())
        if subscriber_id is None:
            subscriber_id = await self.client.find_subscriber(desired.email)
        tags = frozenset[str]()
        if subscriber_id is not None:
            tags = await self.held_tags(subscriber_id, desired)
        previous = await self.previous(desired, subscriber_id, addresses)
        return Current(subscriber_id, tags, previous)

    async def known_addresses(self, known: KitLedger | None) -> dict[str, int]:
        """The ledger's subscribers as Kit has them now, by their address (read by id); one
        Kit no longer has is left out."""
        addresses: dict[str, int] = {}
        for subscriber_id in known.subscriber_ids() if known else ():
            email = await self.client.subscriber_email(subscriber_id)
            if email is not None:
                addresses[email.casefold()] = subscriber_id
        return addresses

    async def previous(
        self, desired: Desired, subscriber_id: int | None, addresses: dict[str, int]
    ) -> tuple[PreviousSubscriber, ...]:
        """Subscribers at the customer's earlier addresses. Kit's list lags a change of address
        too, so a moved subscriber may still turn up under its old one: the same id as the one
        found under the new address is skipped, and moving it again is harmless."""
        seen = {subscriber_id}
        found: list[PreviousSubscriber] = []
        for email in desired.previous_emails:
            if email.casefold() == desired.email.casefold():
                continue
            previous_id = addresses.get(email.casefold())
            if previous_id is None:
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

    def plan(self, desired: Desired, current: Current) -> list[Action]:
        return plan(desired, current)

    async def execute(self, action: Action, desired: Desired, book: KitLedger) -> bool:
        """Carry out one action and note in `book` what it established. True when Kit's answer
        showed the ledger wrong (the subscriber existed, or is gone): plan again."""
        email = desired.email
        match action:
            case UpsertSubscriber(email=address, first_name=name):
                return await self.upserted(address, name, desired, book)
            case ChangeEmail(subscriber_id=subscriber_id, email=address):
                if await self.client.change_email(subscriber_id, address):
                    book.moved(subscriber_id, address)
                    return False
                # The new address has its own subscriber: keep both, tag that one.
                await self.upserted(address, desired.first_name, desired, book)
                return True
            case AddTag(tag=tag):
                tagged = book.at(email)
                try:
                    await self.client.add_tag(tag, email)
                except PermanentProviderError as error:
                    if error.status != 404 or tagged is None:
                        raise
                    book.forget(tagged)  # gone from Kit: upsert it again
                    return True
                if tagged is not None:
                    book.tag(tagged, tag, on=True)
            case RemoveTag(tag=tag):
                await self.client.remove_tag(tag, email)
                if (untagged := book.at(email)) is not None:
                    book.tag(untagged, tag, on=False)
            case RemovePreviousTag(subscriber_id=subscriber_id, tag=tag):
                await self.client.remove_tag_by_id(tag, subscriber_id)
                book.tag(subscriber_id, tag, on=False)
        return False

    async def upserted(
        self, email: str, first_name: str | None, desired: Desired, book: KitLedger
    ) -> bool:
        """Upsert the subscriber; True when it existed already (its tags, read by id, which is
        consistent, go into the ledger and the rest is planned again)."""
        upserted = await self.client.upsert_subscriber(email, first_name)
        if upserted.created:
            book.hold(upserted.id, email, frozenset())
            return False
        book.hold(upserted.id, email, await self.held_tags(upserted.id, desired))
        return True
