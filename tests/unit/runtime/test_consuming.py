"""The one consume/commit path (libs/runtime/consuming.py) on FastStream's in-memory broker:
what a handler's outcome does to its message — committed after the effect, skipped and
committed when unreadable, handed back (not committed) when the handler fails, left alone when
the service stops — for single and batch subscribers alike."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from faststream import AckPolicy
from faststream.kafka import KafkaBroker, TestKafkaBroker

from libs.contracts import IncidentChanged, IncidentStatus
from libs.runtime import consuming
from libs.runtime.consuming import (
    CommitPolicy,
    HandBack,
    consumer_router,
    decode_as,
    decode_batch_as,
)


def change(n: int) -> IncidentChanged:
    return IncidentChanged(
        incident_id=f"inc_{n}",
        customer_id="cus_1",
        integration="circle",
        status=IncidentStatus.OPEN,
        at=datetime.now(UTC),
    )


class Spy:
    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.committed = 0
        self.counts: list[str] = []
        self.handled: list[Any] = []

        async def commit(msg: Any) -> None:
            self.committed += 1

        monkeypatch.setattr(consuming, "commit_message", commit)

    def policy(self, *, stopping: bool = False) -> CommitPolicy:
        async def no_pause(_: float) -> bool:
            return True

        return CommitPolicy(
            kind="test", count=self.counts.append, may_start=lambda: not stopping, pause=no_pause
        )


def single(spy: Spy, behaviour: Exception | None = None, *, stopping: bool = False) -> KafkaBroker:
    broker = KafkaBroker("localhost:9092")
    router = consumer_router(spy.policy(stopping=stopping))

    @router.subscriber(
        "t", group_id="g", ack_policy=AckPolicy.MANUAL, decoder=decode_as(IncidentChanged)
    )
    async def handler(message: IncidentChanged) -> None:
        spy.handled.append(message.incident_id)
        if behaviour is not None:
            raise behaviour

    broker.include_router(router)
    return broker


async def publish(broker: KafkaBroker, *bodies: bytes) -> None:
    async with TestKafkaBroker(broker) as kafka:
        for body in bodies:
            await kafka.publish(body, "t")


async def test_a_handled_message_is_committed(monkeypatch: pytest.MonkeyPatch) -> None:
    spy = Spy(monkeypatch)
    await publish(single(spy), change(1).to_bytes())
    assert (spy.handled, spy.committed, spy.counts) == (["inc_1"], 1, ["ok"])


async def test_an_unreadable_message_is_skipped_and_committed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    spy = Spy(monkeypatch)
    await publish(single(spy), b"{not json", change(2).to_bytes())
    assert (spy.handled, spy.committed, spy.counts) == (["inc_2"], 2, ["unreadable", "ok"])


async def test_a_failing_handler_hands_the_message_back(monkeypatch: pytest.MonkeyPatch) -> None:
    spy = Spy(monkeypatch)
    nacked: list[int] = []

    async def nack(self: Any) -> None:
        nacked.append(1)

    monkeypatch.setattr("faststream.kafka.message.KafkaAckableMessage.nack", nack)
    await publish(single(spy, RuntimeError("store down")), change(3).to_bytes())
    assert (spy.committed, spy.counts, nacked) == (0, ["handed_back"], [1])


async def test_a_hand_back_on_shutdown_leaves_the_message(monkeypatch: pytest.MonkeyPatch) -> None:
    spy = Spy(monkeypatch)
    await publish(single(spy, HandBack()), change(4).to_bytes())
    assert (spy.handled, spy.committed, spy.counts) == (["inc_4"], 0, ["handed_back"])


async def test_nothing_starts_while_stopping(monkeypatch: pytest.MonkeyPatch) -> None:
    spy = Spy(monkeypatch)
    await publish(single(spy, stopping=True), change(5).to_bytes())
    assert (spy.handled, spy.committed, spy.counts) == ([], 0, [])


async def test_a_batch_skips_only_its_unreadable_records(monkeypatch: pytest.MonkeyPatch) -> None:
    spy = Spy(monkeypatch)
    broker = KafkaBroker("localhost:9092")
    router = consumer_router(spy.policy())

    @router.subscriber(
        "b",
        group_id="g",
        ack_policy=AckPolicy.MANUAL,
        batch=True,
        decoder=decode_batch_as(IncidentChanged, "test", spy.counts.append),
    )
    async def handler(messages: list[IncidentChanged]) -> None:
        spy.handled.append([m.incident_id for m in messages])

    broker.include_router(router)
    async with TestKafkaBroker(broker) as kafka:
        await kafka.publish_batch(
            change(6).to_bytes(), b'{"x": 1}', change(7).to_bytes(), topic="b"
        )
    assert spy.handled == [["inc_6", "inc_7"]]
    assert (spy.committed, spy.counts) == (1, ["unreadable", "ok"])
