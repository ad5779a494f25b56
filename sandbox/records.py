"""What every provider's in-memory store (`<provider>/store.py`) shares: the clock, the `Missing`
error, timestamps, the email index and id counters.

Every store method is synchronous and never awaits, so on the one event loop each call is atomic:
two concurrent requests cannot interleave inside a check-then-write (this is what makes the
stand-ins asyncio-safe without locks). Routers await the request body first, then call in here.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

Clock = Callable[[], float]
WALL_CLOCK: Clock = time.time


class Missing(Exception):
    """A record the request names does not exist; `what` is the provider's name for it."""

    def __init__(self, what: str) -> None:
        super().__init__(what)
        self.what = what


def iso(ts: float) -> str:
    """ISO 8601 in UTC with a Z, as Circle, Kit, HubSpot and Zendesk all write timestamps."""
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def email_key(email: str) -> str:
    """Every provider here matches emails case-insensitively."""
    return email.strip().lower()


class EmailIndex:
    """Record ids by email (`email_key`), kept by the store on every write that sets or drops an
    address, as a real provider's database index: a lookup is a dict read, not a scan of every
    record (at 10,000 customers the scans made the sandbox the busiest process of a soak, and
    the system under test looked slower the more customers it had)."""

    def __init__(self) -> None:
        self._ids: dict[str, int | str] = {}

    def get(self, email: str) -> int | str | None:
        return self._ids.get(email_key(email))

    def put(self, email: str, record_id: int | str) -> None:
        if email.strip():
            self._ids[email_key(email)] = record_id

    def drop(self, email: str, record_id: int | str) -> None:
        if self._ids.get(email_key(email)) == record_id:
            del self._ids[email_key(email)]

    def clear(self) -> None:
        self._ids.clear()


def id_counter(start: int) -> Iterator[int]:
    # Ids keep growing across resets, so an id held from before a reset never names a new record.
    return itertools.count(start)
