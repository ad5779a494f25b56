"""Support's typed handlers on Kafka: every integration's failure topic and `sync.results.v1`.

Commits are ours and come after the record is written (`AckPolicy.MANUAL`); a message that
cannot be read is skipped loudly, an internal error hands the message back.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from faststream import AckPolicy
from faststream.kafka import KafkaRouter

from libs.contracts import SYNC_RESULTS, SyncFailure, SyncResult, failure_topic
from libs.runtime.consuming import CommitPolicy, consumer_router, decode_as, decode_batch_as

from .service import Support, take_failure, take_results
from .settings import SupportSettings

#: outcomes taken from Kafka at once
RESULTS_BATCH = 400


def group_id(settings: SupportSettings) -> str:
    return f"{settings.kafka_group_prefix}-support"


def support_routers(support: Support, settings: SupportSettings) -> list[KafkaRouter]:
    """The failure handler and the results handler, each on a router that commits after the
    effect (`libs.runtime.consuming`)."""
    options: dict[str, Any] = {"ack_policy": AckPolicy.MANUAL, "auto_offset_reset": "earliest"}
    topics = [failure_topic(name) for name in settings.integrations]

    def counter(kind: str) -> Callable[[str], None]:
        return lambda outcome: support.metrics.messages.labels(kind, outcome).inc()

    # Failures are rare: one consumer reads every failure topic.
    failures = consumer_router(CommitPolicy(kind="failure", count=counter("failure")))

    @failures.subscriber(
        *topics,
        group_id=group_id(settings),
        decoder=decode_as(SyncFailure),
        title="support",
        description=f"Consumer group `{group_id(settings)}`: support makes each failed step "
        "an incident, with one Zendesk ticket.",
        **options,
    )
    async def on_failure(failure: SyncFailure) -> None:
        await take_failure(support, failure)

    # Outcomes are many (every worker's, for every event): they come in batches, so a batch's
    # timelines cost one read and one bulk write, committed after the effect (redone, it changes
    # nothing). "ok" is counted per outcome, by the handler; the rest per outcome as well.
    count_result = counter("result")
    results = consumer_router(
        CommitPolicy(kind="result", count=lambda o: None if o == "ok" else count_result(o))
    )

    @results.subscriber(
        SYNC_RESULTS,
        group_id=f"{group_id(settings)}-results",
        batch=True,
        max_records=RESULTS_BATCH,
        batch_timeout_ms=100,
        decoder=decode_batch_as(SyncResult, "result", count_result),
        title=f"support:{SYNC_RESULTS}",
        description=f"Consumer group `{group_id(settings)}-results`, in batches: support keeps "
        "each customer's timeline and resolves incidents on success.",
        **options,
    )
    async def on_results(outcomes: list[SyncResult]) -> None:
        if outcomes:
            await take_results(support, outcomes)
        for _ in outcomes:
            count_result("ok")

    return [failures, results]
