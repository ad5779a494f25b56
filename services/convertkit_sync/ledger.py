"""What convertkit_sync has established in Kit for one customer (`libs/runtime/ledger.py`): the
subscribers it wrote, by id, each with its address and the managed tags it carries. Pure."""

from __future__ import annotations

from pydantic import BaseModel

from .plan import Current, Desired, PreviousSubscriber


class Subscriber(BaseModel):
    email: str  # casefolded; "" when only its id is known (a subscriber at an earlier address)
    tags: list[str] = []


class KitLedger(BaseModel):
    #: subscriber id (as text) -> what it holds
    subscribers: dict[str, Subscriber] = {}

    @classmethod
    def from_current(cls, desired: Desired, current: Current) -> KitLedger:
        """The ledger a read of Kit gives (a replay, or a customer older than the ledger)."""
        book = cls()
        if current.subscriber_id is not None:
            book.hold(current.subscriber_id, desired.email, current.tags)
        for previous in current.previous:
            book.hold(previous.subscriber_id, "", previous.tags)
        return book

    def current(self, desired: Desired) -> Current:
        """What Kit holds, as far as our own writes tell: the subscriber at the desired address,
        and the others (earlier addresses), most recently written first."""
        key = desired.email.casefold()
        found = next((i for i, s in self.subscribers.items() if s.email == key), None)
        others = tuple(
            PreviousSubscriber(int(i), frozenset(s.tags))
            for i, s in reversed(self.subscribers.items())
            if i != found
        )
        if found is None:
            return Current(None, frozenset(), others)
        return Current(int(found), frozenset(self.subscribers[found].tags), others)

    def hold(self, subscriber_id: int, email: str, tags: frozenset[str]) -> None:
        self.subscribers.pop(str(subscriber_id), None)  # last: the most recently written
        self.subscribers[str(subscriber_id)] = Subscriber(email=email.casefold(), tags=sorted(tags))

    def moved(self, subscriber_id: int, email: str) -> None:
        held = self.subscribers.get(str(subscriber_id))
        self.hold(subscriber_id, email, frozenset(held.tags if held else ()))

    def tag(self, subscriber_id: int, tag: str, *, on: bool) -> None:
        held = self.subscribers.get(str(subscriber_id))
        if held is not None:
            tags = set(held.tags) | {tag} if on else set(held.tags) - {tag}
            held.tags = sorted(tags)

    def subscriber_ids(self) -> list[int]:
        return [int(i) for i in self.subscribers]

    def at(self, email: str) -> int | None:
        key = email.casefold()
        return next((int(i) for i, s in self.subscribers.items() if s.email == key), None)

    def forget(self, subscriber_id: int) -> None:
        self.subscribers.pop(str(subscriber_id), None)
