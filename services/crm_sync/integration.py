"""CRM sync: plan against the ledger (what our writes established), upsert by email only what
differs (a contact never seen is upserted outright: the answer gives its values, and HubSpot
keeps a later lifecycle stage someone else set), and move the contact at the customer's earlier
address to the new one. Upserts of concurrent steps share one batch call. HubSpot is read only
for a replay, a customer older than the ledger, or an email change it refused."""

from __future__ import annotations

from typing import Annotated, Any, ClassVar

import httpx
from pydantic import AfterValidator

from libs.contracts import CustomerEvent
from libs.runtime.mapping import IntegrationMapping
from libs.runtime.provider_http import bearer_client
from libs.runtime.provider_integration import ProviderIntegration
from libs.runtime.worker_metrics import WorkerMetrics

from .audit import CrmAudit
from .batching import ContactUpserts
from .client import HubSpotClient
from .ledger import CrmLedger
from .plan import (
    LIFECYCLE_STAGE,
    Action,
    ChangeContactEmail,
    ClearLifecycleStage,
    Current,
    Desired,
    UpsertContact,
    plan,
)
from .settings import CrmSettings

SECTION = "crm"
SWITCHBOARD_LIFECYCLE = "switchboard_lifecycle"
SWITCHBOARD_CUSTOMER_ID = "switchboard_customer_id"
#: written by Switchboard itself, so the mapping may not set them
RESERVED = frozenset({"email", SWITCHBOARD_LIFECYCLE, SWITCHBOARD_CUSTOMER_ID})


def _valid_properties(properties: dict[str, str]) -> dict[str, str]:
    if reserved := sorted(RESERVED & properties.keys()):
        raise ValueError(f"{', '.join(reserved)} is written by Switchboard, not by the mapping")
    if empty := sorted(name for name, value in properties.items() if not value.strip()):
        raise ValueError(f"{', '.join(empty)} has an empty value (HubSpot would clear it)")
    return properties


#: HubSpot contact properties (internal names and option values) per lifecycle
CrmProperties = Annotated[dict[str, str], AfterValidator(_valid_properties)]
CrmMapping = IntegrationMapping[CrmProperties]


def desired_state(
    event: CustomerEvent, mapping: CrmMapping, stage_order: tuple[str, ...]
) -> Desired:
    found = [
        rules[event.lifecycle]
        for rules in mapping.for_products(event.products)
        if event.lifecycle in rules
    ]
    properties = merge(found, stage_order)
    properties[SWITCHBOARD_LIFECYCLE] = event.lifecycle.value
    properties[SWITCHBOARD_CUSTOMER_ID] = event.customer_id
    managed = {p[LIFECYCLE_STAGE] for p in mapping.everything() if LIFECYCLE_STAGE in p}
    return Desired(event.email, properties, frozenset(managed), stage_order, event.previous_emails)


def merge(found: list[dict[str, str]], stage_order: tuple[str, ...]) -> dict[str, str]:
    """One contact, several products: the furthest stage wins; otherwise the first product."""
    merged: dict[str, str] = {}
    for properties in found:
        for name, value in properties.items():
            merged.setdefault(name, value)
    stages = [p[LIFECYCLE_STAGE] for p in found if LIFECYCLE_STAGE in p]
    if stages:
        rank = {stage: i for i, stage in enumerate(stage_order)}
        merged[LIFECYCLE_STAGE] = max(stages, key=lambda stage: rank.get(stage, -1))
    return merged


class CrmIntegration(CrmAudit, ProviderIntegration[CrmSettings, CrmMapping]):
    name: ClassVar[str] = SECTION
    ledger_model = CrmLedger
    mapping_model = CrmMapping

    def __init__(self, settings: CrmSettings, metrics: WorkerMetrics | None = None, **kw: Any):
        super().__init__(settings, metrics, **kw)
        self.client = HubSpotClient(self._http, metrics)
        # upserts of concurrent steps share one batch call (up to 100 contacts)
        self.upserts = ContactUpserts(
            self.client,
            max_items=settings.hubspot_batch_size,
            max_wait=settings.hubspot_batch_wait_seconds,
        )

    def connect(
        self, settings: CrmSettings, transport: httpx.AsyncBaseTransport | None
    ) -> httpx.AsyncClient:
        token = settings.hubspot_token.get_secret_value()
        return bearer_client(
            settings.hubspot_base_url, token, settings.http_timeout_seconds, transport
        )

    async def current_state(self, desired: Desired, known: Any = None) -> Current:
        """What HubSpot holds, read (a replay, an unsettled record, a customer older than the
        ledger, or an email change HubSpot refused). Reads by email are consistent: `known`
        is not needed."""
        found = await self.client.get_contact(desired.email, desired.properties)
        if found is not None:
            return Current(exists=True, properties=found)
        for previous in desired.previous_emails:
            if previous.lower() == desired.email.lower():
                continue
            found = await self.client.get_contact(previous, desired.properties)
            if found is not None:
                return Current(exists=True, properties=found, found_under=previous)
        return Current(exists=False)

    def desired(self, event: CustomerEvent) -> Desired:
        return desired_state(event, self.mapping, self.settings.hubspot_lifecycle_stages)

    def plan(self, desired: Desired, current: Current) -> list[Action]:
        return plan(desired, current)

    async def execute(self, action: Action, desired: Desired, book: CrmLedger) -> bool:
        """Carry out one action and note in `book` what HubSpot answered. True when the answer
        showed the ledger wrong (the contact at the old address is gone, or the new address
        has a contact of its own): HubSpot is read and the rest planned again."""
        email = desired.email
        match action:
            case ChangeContactEmail(previous_email=previous):
                if await self.client.change_email(previous, email):
                    book.wrote(email, {})
                    return False
                book.become(CrmLedger.from_current(desired, await self.current_state(desired)))
                return True
            case ClearLifecycleStage():
                # HubSpot only takes an earlier stage once the property is empty.
                book.wrote(email, await self.upserts.upsert(email, {LIFECYCLE_STAGE: ""}))
            case UpsertContact(properties=properties):
                book.wrote(email, await self.upserts.upsert(email, dict(properties)))
        return False

    async def aclose(self) -> None:
        await self.upserts.aclose()
        await super().aclose()
