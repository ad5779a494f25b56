"""Kafka topic names and their default partition counts (DESIGN.md, "Contracts")."""

from __future__ import annotations

from pathlib import Path
from typing import Final

CUSTOMER_EVENTS: Final = "customer.events.v1"
SYNC_RESULTS: Final = "sync.results.v1"
SUPPORT_INCIDENTS: Final = "support.incidents.v1"


def failure_topic(integration: str) -> str:
    """The topic a worker publishes to once its retries ran out."""
    return f"{integration}.failed.v1"


def replay_topic(integration: str) -> str:
    """The topic support publishes replays of one integration's failed steps to."""
    return f"{integration}.replay.v1"


def discover_integrations(services: Path) -> tuple[str, ...]:
    """Every `services/<name>_sync/` folder with an `integration.py` is the integration `<name>`,
    so adding one is adding its folder: topics, support, status and the stack follow."""
    found = (p.parent.name.removesuffix("_sync") for p in services.glob("*_sync/integration.py"))
    return tuple(sorted(found))


INTEGRATIONS: Final = discover_integrations(Path(__file__).resolve().parents[2] / "services")

#: topic -> partitions. Keyed by customer_id everywhere, so one customer's messages stay in order.
TOPIC_PARTITIONS: Final[dict[str, int]] = {
    CUSTOMER_EVENTS: 12,
    SYNC_RESULTS: 12,
    SUPPORT_INCIDENTS: 3,
    **{failure_topic(name): 3 for name in INTEGRATIONS},
    **{replay_topic(name): 3 for name in INTEGRATIONS},
}
