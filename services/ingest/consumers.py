"""How ingest consumes: each of its topics in a consumer group of its own, committed after the
effect (`libs.runtime.consuming`), from the earliest offset for a new group."""

from __future__ import annotations

from typing import Any

from faststream import AckPolicy
from faststream.kafka import KafkaRouter

from libs.runtime.consuming import CommitPolicy, consumer_router

from .settings import IngestSettings


def ingest_consumer(settings: IngestSettings, kind: str, name: str) -> tuple[KafkaRouter, str]:
    """A router committing after the effect, and the consumer group `…-ingest-<name>`."""
    return consumer_router(CommitPolicy(kind=kind)), f"{settings.kafka_group_prefix}-ingest-{name}"


def subscriber_options(group: str) -> dict[str, Any]:
    return {"group_id": group, "ack_policy": AckPolicy.MANUAL, "auto_offset_reset": "earliest"}
