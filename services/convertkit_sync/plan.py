"""Kit: what to do to make a subscriber carry the desired tags. Pure.

Never unsubscribe: in Kit an unsubscribe withdraws consent and cannot be undone by the API, so a
revoke only removes the tags the mapping manages and adds the ones the new lifecycle grants
(`canceled` → `churned`). Tags the mapping does not mention belong to someone else and stay.

An email change: Kit can change a subscriber's address in place (`PUT /v4/subscribers/{id}` takes
`email_address`), so a subscriber found only under an earlier address is moved to the new one,
keeping its consent, history and tags, and then tagged as usual. A subscriber at an earlier
address that cannot be moved (the new address has its own subscriber) loses the managed tags.
"""

from __future__ import annotations

from dataclasses import dataclass

from libs.runtime.plans import NamedAction, to_grant, to_revoke


@dataclass(frozen=True)
class Desired:
    email: str
    first_name: str | None
    tags: frozenset[str]  # what the subscriber should carry now
    managed_tags: frozenset[str]  # every tag the mapping can grant
    previous_emails: tuple[str, ...] = ()  # the customer's earlier addresses, most recent first


@dataclass(frozen=True)
class PreviousSubscriber:
    """A subscriber at one of the customer's earlier addresses."""

    subscriber_id: int
    tags: frozenset[str]  # of the managed tags, those this subscriber carries


@dataclass(frozen=True)
class Current:
    subscriber_id: int | None  # None: no subscriber with this email (as far as a lookup can tell)
    tags: frozenset[str]  # of the managed tags, those the subscriber carries
    #: subscribers at earlier addresses, most recent address first
    previous: tuple[PreviousSubscriber, ...] = ()


@dataclass(frozen=True)
class UpsertSubscriber(NamedAction):
    kind = "upsert_subscriber"
    email: str
    first_name: str | None


@dataclass(frozen=True)
class AddTag(NamedAction):
    kind, detail = "add_tag", "tag"
    tag: str


@dataclass(frozen=True)
class RemoveTag(NamedAction):
    kind, detail = "remove_tag", "tag"
    tag: str


@dataclass(frozen=True)
class ChangeEmail(NamedAction):
    """Move the subscriber at an earlier address to the desired one."""

    kind = "change_email"
    subscriber_id: int
    email: str


@dataclass(frozen=True)
class RemovePreviousTag(NamedAction):
    """Untag the subscriber at an earlier address (by id: the email stays out of the name)."""

    kind, detail = "remove_previous_tag", "tag"
    subscriber_id: int
    tag: str


Action = UpsertSubscriber | ChangeEmail | AddTag | RemoveTag | RemovePreviousTag


def plan(desired: Desired, current: Current) -> list[Action]:
    actions: list[Action] = []
    held = current.tags
    previous = list(current.previous)
    if current.subscriber_id is None and previous:
        # Found only under an earlier address: move that subscriber, tags and all.
        moving = previous.pop(0)
        actions.append(ChangeEmail(moving.subscriber_id, desired.email))
        held = moving.tags
    elif current.subscriber_id is None:
        if not desired.tags:
            return []  # nothing to tag: do not put someone on the list just to carry no tag
        # Kit's tag calls need an existing subscriber, so the upsert comes first.
        actions.append(UpsertSubscriber(desired.email, desired.first_name))
        held = frozenset()
    # Add before remove: if a call fails midway, the subscriber has one tag too many for a
    # moment rather than none (a retry finishes the job either way).
    actions.extend(AddTag(t) for t in to_grant(desired.tags, held))
    actions.extend(RemoveTag(t) for t in to_revoke(desired.tags, held, desired.managed_tags))
    for other in previous:
        gone = to_revoke(frozenset(), other.tags, desired.managed_tags)
        actions.extend(RemovePreviousTag(other.subscriber_id, t) for t in gone)
    return actions
