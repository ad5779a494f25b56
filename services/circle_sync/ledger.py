"""What circle_sync has established in Circle for one customer (`libs/runtime/ledger.py`): the
addresses at which a member exists, with the managed access groups each holds. Pure."""

from __future__ import annotations

from pydantic import BaseModel

from .plan import Current, Desired, PreviousMember


class CircleLedger(BaseModel):
    #: casefolded address -> the managed groups its member holds (a key: the member exists)
    members: dict[str, list[str]] = {}

    @classmethod
    def from_current(cls, desired: Desired, current: Current) -> CircleLedger:
        """The ledger a read of Circle gives (a replay, or a customer older than the ledger)."""
        book = cls()
        if current.member_exists:
            book.hold(desired.email, current.access_groups)
        for previous in current.previous_members:
            book.hold(previous.email, previous.access_groups)
        return book

    def current(self, desired: Desired) -> Current:
        """What Circle holds, as far as our own writes tell."""
        key = desired.email.casefold()
        held = self.members.get(key)
        previous = tuple(
            PreviousMember(email, frozenset(groups))
            for email, groups in self.members.items()
            if email != key and groups
        )
        return Current(held is not None, frozenset(held or ()), previous)

    def hold(self, email: str, groups: frozenset[str]) -> None:
        self.members[email.casefold()] = sorted(groups)

    def grant(self, email: str, group: str) -> None:
        held = set(self.members.get(email.casefold(), ()))
        self.members[email.casefold()] = sorted(held | {group})

    def revoke(self, email: str, group: str) -> None:
        key = email.casefold()
        if key in self.members:
            self.members[key] = [g for g in self.members[key] if g != group]

    def forget(self, email: str) -> None:
        self.members.pop(email.casefold(), None)
