"""The pure parts of applying webhooks: which changes find their customer from the identities
alone (the fast ones) and which need a lookup, and what a customer becomes after its changes,
with each event's outcome and outgoing message. No I/O, no clock but `apply_change`'s default.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from libs.contracts.identity import identity_keys, stripe_key
from libs.runtime.logging import email_hash, get_logger

from .canonical import CanonicalCustomer, apply_change, customer_event, stripe_source
from .event_log import Finished, Outbox
from .normalize import StripeChange

log = get_logger()


def keys(change: StripeChange) -> list[str]:
    return identity_keys(change.stripe_customer_id, change.email)


def needs_lookup(change: StripeChange) -> bool:
    """An email change (it moves an identity, and is found by its Stripe id only) and an
    unhandled type are resolved one by one (`resolve.py`), which may ask the Stripe API."""
    return not change.handled or bool(change.previous_email)


@dataclass
class Owners:
    """Who each change belongs to, as the identities read tell."""

    resolved: list[tuple[StripeChange, str]]
    #: found no customer: needs the Stripe API
    unresolved: list[StripeChange]
    #: identity key -> customer id, to be claimed (insert-once)
    claims: dict[str, str]


def assign_owners(
    changes: Sequence[StripeChange], known: Mapping[str, str], new_id: Callable[[], str]
) -> Owners:
    """Give each change its customer: the one its first identity key points at, else a new
    one if it carries an email (later changes in the batch then find it)."""
    known = dict(known)
    owners = Owners([], [], {})
    for change in changes:
        owner = next((known[k] for k in keys(change) if k in known), None)
        if owner is None and change.email:
            owner = new_id()
            owners.claims.update(dict.fromkeys(keys(change), owner))
        elif (
            owner is not None
            and change.stripe_customer_id
            and stripe_key(change.stripe_customer_id) not in known
        ):
            # found by email: the Stripe id now points at the same customer
            owners.claims[stripe_key(change.stripe_customer_id)] = owner
        if owner is None:
            owners.unresolved.append(change)
            continue
        known.update(dict.fromkeys(keys(change), owner))
        owners.resolved.append((change, owner))
    return owners


@dataclass(frozen=True)
class EventOutcome:
    change: StripeChange
    customer_id: str | None
    outcome: str
    #: the message due (the customer after this change), None when nothing moved downstream
    outbox: Outbox | None

    def finished(self, published: bool) -> Finished:
        return Finished(
            self.change.event_id, self.customer_id, self.outcome, self.outbox, published
        )


Folded = tuple[CanonicalCustomer, list[EventOutcome]]


@dataclass(frozen=True)
class Seed:
    """What a customer not written yet starts from (a lead)."""

    email: str
    stripe_customer_id: str | None


def fold_customer(
    current: CanonicalCustomer | None,
    owner: str,
    changes: Sequence[StripeChange],
    seed: Seed | None = None,
) -> Folded:
    """The customer after `changes`, in the order given (the lifecycle itself is a fold in
    time order, see `libs.contracts.lifecycle`); a new customer if there is none yet."""
    seed = seed or Seed(changes[0].email or "", changes[0].stripe_customer_id)
    customer = current or CanonicalCustomer(
        customer_id=owner, email=seed.email, stripe_customer_id=seed.stripe_customer_id
    )
    outcomes = []
    for change in changes:
        if change.event_id in customer.recent_event_ids:  # applied before a crash: republish
            outcome, changed = "applied", True
        else:
            applied = apply_change(customer, change)
            customer, outcome, changed = applied.customer, applied.outcome, applied.changed
        outbox = (
            customer_event(customer, stripe_source(change)).model_dump(mode="json")
            if changed
            else None
        )
        outcomes.append(
            EventOutcome(change, owner, outcome if change.handled else "ignored", outbox)
        )
    return customer, outcomes


def by_owner(resolved: Sequence[tuple[StripeChange, str]]) -> dict[str, list[StripeChange]]:
    grouped: dict[str, list[StripeChange]] = {}
    for change, owner in resolved:
        grouped.setdefault(owner, []).append(change)
    return grouped


def fold_all(
    read: Mapping[str, CanonicalCustomer],
    grouped: Mapping[str, list[StripeChange]],
    seeds: Mapping[str, Seed],
) -> dict[str, Folded]:
    return {
        owner: fold_customer(read.get(owner), owner, mine, seeds.get(owner))
        for owner, mine in grouped.items()
    }


def log_applied(outcome: EventOutcome, customer: CanonicalCustomer, *, path: str) -> None:
    log.info(
        "webhook_applied",
        event_id=outcome.change.event_id,
        customer_id=customer.customer_id,
        email_hash=email_hash(customer.email),
        type=outcome.change.event_type,
        lifecycle=customer.lifecycle,
        version=customer.version,
        outcome=outcome.outcome,
        path=path,
    )
