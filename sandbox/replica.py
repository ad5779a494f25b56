"""A lagged view of records: what a provider's asynchronous replica (Kit's lists) or search index
(HubSpot's CRM search) shows, `lag_s` seconds behind the primary.

The store keeps its records fresh, as the provider's primary does (lookups by id, write answers),
and tells the view every version it writes, deletions too (`write(key, None)`). `as_of()` answers
the records as they were at `clock() - lag_s`: a record created within the lag is absent, one
deleted within the lag is still there, one changed within the lag shows its older version.

History is pruned as it goes: of each record only the versions newer than the cutoff are kept,
plus the newest one at or before it (what the cutoff shows); a record deleted before the cutoff is
forgotten. Memory is the records plus the writes of the last `lag_s` seconds. Raising the lag at
runtime cannot bring back versions already pruned: a record whose older versions are gone is
absent until its oldest kept version is old enough (as if it were new).

Pure: no I/O, and the clock is injected. Values are stored as given, so a store passes a copy.
"""

from __future__ import annotations

import bisect
from collections.abc import Hashable, Iterator
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from sandbox.records import WALL_CLOCK, Clock

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


@dataclass
class _History(Generic[V]):
    # Parallel lists, oldest first: when each version was written, and the version (None: deleted)
    times: list[float] = field(default_factory=list)
    values: list[V | None] = field(default_factory=list)

    def at(self, cutoff: float) -> V | None:
        """The version the cutoff shows: the newest written at or before it (None: no record)."""
        i = bisect.bisect_right(self.times, cutoff)
        return self.values[i - 1] if i else None

    def prune(self, cutoff: float) -> bool:
        """Drop the versions no cutoff from now on can show; True when nothing is left."""
        i = bisect.bisect_right(self.times, cutoff)
        if i > 1:
            del self.times[: i - 1], self.values[: i - 1]
        return len(self.values) == 1 and self.values[0] is None and self.times[0] <= cutoff


class LaggedView(Generic[K, V]):
    """Versions of records by key, read `lag_s` seconds late. `lag_s` may change at any time."""

    def __init__(self, lag_s: float, clock: Clock = WALL_CLOCK) -> None:
        self._clock = clock
        self._lag_s = 0.0
        self.lag_s = lag_s
        self._records: dict[K, _History[V]] = {}

    @property
    def lag_s(self) -> float:
        return self._lag_s

    @lag_s.setter
    def lag_s(self, value: float) -> None:
        if value < 0:
            raise ValueError(f"a lag cannot be negative: {value}")
        self._lag_s = float(value)

    @property
    def lagging(self) -> bool:
        """False with no lag: the caller may read its fresh records instead (same answer)."""
        return self._lag_s > 0

    def cutoff(self) -> float:
        return self._clock() - self._lag_s

    def write(self, key: K, value: V | None) -> None:
        """`value` was written now (None: the record was deleted)."""
        history = self._records.setdefault(key, _History())
        now = self._clock()
        if history.times and history.times[-1] > now:
            now = history.times[-1]  # a clock that steps back must not reorder the versions
        history.times.append(now)
        history.values.append(value)
        if history.prune(self.cutoff()):
            del self._records[key]

    def get(self, key: K) -> V | None:
        """One record as the view shows it (None: absent)."""
        history = self._records.get(key)
        return history.at(self.cutoff()) if history is not None else None

    def as_of(self) -> dict[K, V]:
        """Every record as the view shows it, in the order the keys were first written."""
        return dict(self.items())

    def items(self) -> Iterator[tuple[K, V]]:
        cutoff, gone = self.cutoff(), []
        for key, history in self._records.items():
            if history.prune(cutoff):
                gone.append(key)
                continue
            value = history.at(cutoff)
            if value is not None:
                yield key, value
        # Pruned while reading anyway: a record nobody writes again is still forgotten.
        for key in gone:
            del self._records[key]

    def versions(self) -> int:
        """How many versions are kept (what memory the history holds)."""
        return sum(len(h.values) for h in self._records.values())

    def clear(self) -> None:
        self._records.clear()
