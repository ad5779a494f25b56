"""HubSpot: what to write so a contact's properties match the desired state. Pure.

`lifecyclestage` is special. HubSpot does not move it backwards: an earlier stage is only
accepted after the property was cleared (set to ""). Switchboard moves it forwards freely, and
backwards (clear first, then set) only from a stage the mapping itself writes. A stage someone
else chose (e.g. `evangelist`, set by the sales team) is left alone rather than undone.

An email change: a contact found only under one of the customer's earlier addresses gets its
`email` changed in place first (`PATCH /crm/v3/objects/contacts/{old}?idProperty=email`), so the
contact keeps its id, history and owner; the usual upsert by the new address then finds it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum

from libs.runtime.plans import NamedAction

LIFECYCLE_STAGE = "lifecyclestage"

#: HubSpot's default stages, earliest first. Accounts can customise them (a setting).
DEFAULT_STAGE_ORDER = (
    "subscriber",
    "lead",
    "marketingqualifiedlead",
    "salesqualifiedlead",
    "opportunity",
    "customer",
    "evangelist",
    "other",
)


@dataclass(frozen=True)
class Desired:
    email: str
    properties: Mapping[str, str]  # what the contact should hold; other properties stay as they are
    managed_stages: frozenset[str]  # every lifecyclestage the mapping can write
    stage_order: tuple[str, ...] = DEFAULT_STAGE_ORDER
    previous_emails: tuple[str, ...] = ()  # the customer's earlier addresses, most recent first


@dataclass(frozen=True)
class Current:
    exists: bool
    # of the desired properties, what the contact holds ("" when unset)
    properties: Mapping[str, str] = field(default_factory=dict)
    #: the earlier address the contact was found under; None when found under the desired one
    found_under: str | None = None


@dataclass(frozen=True)
class ClearLifecycleStage(NamedAction):
    kind = "clear_lifecyclestage"


@dataclass(frozen=True)
class UpsertContact:
    properties: tuple[tuple[str, str], ...]  # (name, value), sorted: only what changes

    def __str__(self) -> str:
        return "upsert_contact:" + ",".join(name for name, _ in self.properties)


@dataclass(frozen=True)
class ChangeContactEmail(NamedAction):
    """Move the contact found under an earlier address to the desired one."""

    kind = "change_email"  # the addresses stay out of the name
    previous_email: str


Action = ChangeContactEmail | ClearLifecycleStage | UpsertContact


class StageMove(Enum):
    SET = "set"  # forwards, or from no stage at all
    CLEAR_FIRST = "clear_first"  # backwards (or order unknown) from a stage the mapping owns
    KEEP = "keep"  # backwards (or order unknown) from a stage someone else set


def stage_move(current: str, wanted: str, desired: Desired) -> StageMove:
    if not current:
        return StageMove.SET
    order = desired.stage_order
    if current in order and wanted in order and order.index(wanted) > order.index(current):
        return StageMove.SET
    return StageMove.CLEAR_FIRST if current in desired.managed_stages else StageMove.KEEP


def plan(desired: Desired, current: Current) -> list[Action]:
    have = current.properties if current.exists else {}
    changes = {k: v for k, v in desired.properties.items() if have.get(k, "") != v}
    actions: list[Action] = []
    if current.exists and current.found_under is not None:
        actions.append(ChangeContactEmail(current.found_under))
    if LIFECYCLE_STAGE in changes:
        move = stage_move(have.get(LIFECYCLE_STAGE, ""), changes[LIFECYCLE_STAGE], desired)
        if move is StageMove.KEEP:
            del changes[LIFECYCLE_STAGE]
        elif move is StageMove.CLEAR_FIRST:
            actions.append(ClearLifecycleStage())
    if changes:
        actions.append(UpsertContact(tuple(sorted(changes.items()))))
    return actions
