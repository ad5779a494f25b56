"""What the integrations' pure plans share: how an action is named, and which of the names the
mapping manages (access groups, tags) to grant and to revoke."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import ClassVar


@dataclass(frozen=True)
class NamedAction:
    """One planned call. Its name (`str(action)`) goes into results, errors and the metrics'
    `action` label, so it never holds an email: `kind`, then the value of the field `detail`
    names (`add_tag:customer`), if any."""

    kind: ClassVar[str]
    detail: ClassVar[str | None] = None

    def __str__(self) -> str:
        return self.kind if self.detail is None else f"{self.kind}:{getattr(self, self.detail)}"


def to_grant(wanted: frozenset[str], held: frozenset[str]) -> list[str]:
    """What the customer should hold and does not, in a stable order."""
    return sorted(wanted - held)


def to_revoke(wanted: frozenset[str], held: frozenset[str], managed: frozenset[str]) -> list[str]:
    """What the customer holds and should not; only what the mapping manages (the rest belongs
    to someone else and stays)."""
    return sorted((held & managed) - wanted)


def names(rules: Iterable[Iterable[str]]) -> frozenset[str]:
    """Every name in a list of rule values (the groups or tags a mapping lists)."""
    return frozenset(name for value in rules for name in value)
