"""In-memory records of each stand-in provider.

Every method is synchronous and never awaits, so on the one event loop each call is atomic: two
concurrent requests cannot interleave inside a check-then-write (this is what makes the stand-ins
asyncio-safe without locks). Routers await the request body first, then call in here.
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


def id_counter(start: int) -> Iterator[int]:
    # Ids keep growing across resets, so an id held from before a reset never names a new record.
    return itertools.count(start)
