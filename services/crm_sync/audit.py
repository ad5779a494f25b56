"""What a reconcile sweep asks of HubSpot (`libs/reconcile`): the contacts that carry
`switchboard_customer_id`, with the properties Switchboard writes, 200 a page from the search
API (10,000 contacts cost 50 calls), and what the differences mean. The search index lags
writes by seconds: the sweep leaves customers written within `reconcile_settle_seconds`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from libs.contracts import CustomerEvent
from libs.reconcile.ports import PageTurns, ProviderView
from libs.reconcile.records import DriftKind, Invariant

from .client import HubSpotClient
from .ledger import CrmLedger
from .plan import LIFECYCLE_STAGE, Desired

CUSTOMER_ID = "switchboard_customer_id"
LIFECYCLE = "switchboard_lifecycle"


@dataclass
class CrmView(ProviderView):
    #: switchboard_customer_id -> the contact's address and its values of our properties
    contacts: dict[str, tuple[str, dict[str, str]]] = field(default_factory=dict)


class CrmAudit:
    """Mixed into `CrmIntegration`."""

    client: HubSpotClient
    mapping: Any

    def audited_properties(self) -> set[str]:
        written = {name for rules in self.mapping.everything() for name in rules}
        return written | {LIFECYCLE_STAGE, LIFECYCLE, CUSTOMER_ID}

    async def observe(self, turns: PageTurns) -> CrmView:
        view = CrmView()
        names = self.audited_properties()
        after: int | None = None
        while True:
            await turns.turn()
            found, after = await self.client.contacts_with(CUSTOMER_ID, names, after)
            for _, properties in found:
                email = properties.get("email", "").casefold()
                view.contacts[properties[CUSTOMER_ID]] = (email, properties)
                view.holders[email] = (f"{CUSTOMER_ID}={properties[CUSTOMER_ID]}",)
            if after is None:
                return view

    def observed_ledger(self, desired: Desired, book: CrmLedger, view: ProviderView) -> CrmLedger:
        assert isinstance(view, CrmView)
        found = view.contacts.get(desired.properties.get(CUSTOMER_ID, ""))
        if found is None:
            return CrmLedger()  # gone, or no longer ours: the repair upserts it again
        email, values = found
        if book.email is not None and book.email.casefold() == email:
            email = book.email  # the same address as written (HubSpot keeps it lower case)
        wanted = set(book.properties) | set(desired.properties)
        return CrmLedger(email=email, properties={n: values.get(n, "") for n in sorted(wanted)})

    def drift_of(
        self, event: CustomerEvent, actions: Sequence[Any]
    ) -> tuple[set[DriftKind], set[Invariant]]:
        return {DriftKind.WRONG_STAGE}, {Invariant.CRM_STAGE_MISMATCH}

    def grants_access(self, holds: tuple[str, ...]) -> bool:
        return False  # a CRM contact is no access

    async def remove_unknown(self, email: str, holds: tuple[str, ...]) -> list[str]:
        return []  # a contact grants no access: reported, never deleted
