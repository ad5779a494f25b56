"""Support's per-customer timelines of sync outcomes (`support_timelines`), written in batches.

Every outcome of every worker lands here, so this is support's hottest write: a batch of outcomes
costs one read of all its customers' timelines and one bulk compare-and-set (the repository's
`update_many`), instead of a read and a write per outcome. Entries are keyed, so a redelivered
outcome is appended once.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from libs.contracts import SyncResult
from libs.runtime.repository import Change

from .ports import Timeline, Timelines

Document = dict[str, Any]


def timeline_entry(result: SyncResult) -> Document:
    """One outcome as the console's timeline shows it; `key` makes a redelivery a no-op."""
    return {
        "key": f"{result.integration}|{result.event_id}|{result.replay_id or '-'}|"
        f"{result.outcome.value}",
        "integration": result.integration,
        "event_id": result.event_id,
        "version": result.version,
        "outcome": result.outcome.value,
        "actions": list(result.actions),
        "attempts": result.attempts,
        "error": result.error.model_dump(mode="json") if result.error else None,
        "replay_id": result.replay_id,
        "at": result.at.isoformat(),
        "expected_at": result.expected_at.isoformat() if result.expected_at else None,
    }


def appended(entries: list[Document], new: Iterable[Document], limit: int) -> list[Document] | None:
    """The entries with `new` appended once each, trimmed to the newest `limit`; None if every
    new entry is there already (nothing to write)."""
    keys = {e.get("key") for e in entries}
    added = []
    for entry in new:
        if entry["key"] not in keys:
            keys.add(entry["key"])
            added.append(entry)
    return [*entries, *added][-limit:] if added else None


def grouped(items: Iterable[tuple[str, Document]]) -> dict[str, list[Document]]:
    """Entries by customer, each customer's in the order given."""
    out: dict[str, list[Document]] = {}
    for customer_id, entry in items:
        out.setdefault(customer_id, []).append(entry)
    return out


async def add_entries(timelines: Timelines, items: list[tuple[str, Document]], limit: int) -> None:
    def append(new: list[Document]) -> Change[Timeline]:
        def change(current: Timeline | None) -> Timeline | None:
            return appended(current or [], new, limit)

        return change

    by_customer = grouped(items)
    if by_customer:
        await timelines.update_many({c: append(new) for c, new in by_customer.items()})


async def timeline(timelines: Timelines, customer_id: str) -> Timeline:
    return (await timelines.get(customer_id)) or []
