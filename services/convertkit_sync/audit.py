"""What a reconcile sweep asks of Kit (`libs/reconcile`): the subscribers of each managed tag,
1,000 a page by cursor (10,000 subscribers cost about 10 calls per tag), and what the
differences mean. Kit's lists lag its writes by up to minutes: the sweep leaves customers the
worker wrote within `reconcile_settle_seconds` for the next one."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from libs.contracts import CustomerEvent, Lifecycle, has_access
from libs.reconcile.ports import PageTurns, ProviderView
from libs.reconcile.records import DriftKind, Invariant
from libs.runtime.plans import names

from .client import KitClient
from .ledger import KitLedger, Subscriber
from .plan import Desired, RemovePreviousTag, RemoveTag


@dataclass
class KitView(ProviderView):
    #: subscriber id (as text) -> (casefolded address, the managed tags it carries)
    subscribers: dict[str, tuple[str, set[str]]] = field(default_factory=dict)
    #: casefolded address -> the ids of the subscribers at it (a customer's are looked up here,
    #: not by walking every subscriber: that made 10,000 customers take 16 s to judge)
    at_address: dict[str, list[str]] = field(default_factory=dict)


class KitAudit:
    """Mixed into `ConvertkitIntegration`."""

    client: KitClient
    mapping: Any

    async def observe(self, turns: PageTurns) -> KitView:
        view = KitView()
        for tag in sorted(names(self.mapping.everything())):
            if not self.client.knows_tags():
                await turns.turn()
            tag_id = await self.client.tag_id(tag, create=False)
            after: str | None = None
            while tag_id is not None:
                await turns.turn()
                found, after = await self.client.tagged_page(tag_id, after)
                for subscriber_id, email in found:
                    _, tags = view.subscribers.setdefault(
                        str(subscriber_id), (email.casefold(), set())
                    )
                    tags.add(tag)
                if after is None:
                    break
        holders: dict[str, set[str]] = {}
        for key, (email, tags) in view.subscribers.items():
            holders.setdefault(email, set()).update(tags)
            view.at_address.setdefault(email, []).append(key)
        view.holders = {email: tuple(sorted(tags)) for email, tags in holders.items()}
        return view

    def observed_ledger(self, desired: Desired, book: KitLedger, view: ProviderView) -> KitLedger:
        assert isinstance(view, KitView)
        managed = {t.casefold(): t for t in desired.managed_tags}

        def held(subscriber_id: str) -> list[str]:
            tags = view.subscribers.get(subscriber_id, ("", set()))[1]
            return sorted(managed[t.casefold()] for t in tags if t.casefold() in managed)

        corrected = KitLedger(
            subscribers={
                i: Subscriber(email=s.email, tags=held(i)) for i, s in book.subscribers.items()
            }
        )
        current = desired.email.casefold()
        earlier = {e.casefold() for e in desired.previous_emails} - {current}
        for email in sorted(earlier | {current}):
            for subscriber_id in view.at_address.get(email, ()):
                if subscriber_id not in corrected.subscribers:
                    address = email if email == current else ""  # as a read of Kit records it
                    corrected.subscribers[subscriber_id] = Subscriber(
                        email=address, tags=held(subscriber_id)
                    )
        return corrected

    def drift_of(
        self, event: CustomerEvent, actions: Sequence[Any]
    ) -> tuple[set[DriftKind], set[Invariant]]:
        removes = any(isinstance(a, (RemoveTag, RemovePreviousTag)) for a in actions)
        invariants: set[Invariant] = set()
        if event.lifecycle is Lifecycle.CANCELED and removes:
            invariants.add(Invariant.CANCELED_STILL_TAGGED)
        return {DriftKind.STALE_TAG}, invariants

    def grants_access(self, holds: tuple[str, ...]) -> bool:
        paying = {n.casefold() for n in names(self.mapping.granted_while(has_access))}
        return any(h.casefold() in paying for h in holds)

    async def remove_unknown(self, email: str, holds: tuple[str, ...]) -> list[str]:
        done = []
        for tag in holds:
            await self.client.remove_tag(tag, email)
            done.append(f"remove_tag:{tag}")
        return done
