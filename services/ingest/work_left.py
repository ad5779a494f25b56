"""The apply stage's "work left" signal: something is known to be left unfinished (a failed
publish or apply, a full queue, a full page of the backlog), so the relay looks now rather than
at its next sweep. One small object, noted by whoever finds such work and taken by the relay."""

from __future__ import annotations


class WorkLeft:
    def __init__(self) -> None:
        self._noted = False

    def note(self) -> None:
        self._noted = True

    def take(self) -> bool:
        """Whether work was noted since the last take (and forget it: the taker handles it)."""
        noted, self._noted = self._noted, False
        return noted
