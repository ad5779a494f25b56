"""The worker's typed handlers on FastStream's in-memory broker (no servers): an event published
to `customer.events.v1` or the replay topic reaches the loop decoded, through the same router and
middleware as in production, and an unreadable message is skipped and counted."""

from __future__ import annotations

from faststream.kafka import KafkaBroker, TestKafkaBroker

from libs.contracts import CUSTOMER_EVENTS, replay_topic
from libs.runtime.errors import error_for_status
from libs.runtime.held_events import HeldEvents
from libs.runtime.worker_app import subscribe_worker

from .test_worker_loop import World, event, settings


def routed(world: World) -> tuple[KafkaBroker, HeldEvents]:
    broker = KafkaBroker("localhost:9092")
    held = subscribe_worker(
        broker,
        world.loop,
        settings(),
        group="test-circle",
        events_topic=CUSTOMER_EVENTS,
        replays_topic=replay_topic("circle"),
    )
    return broker, held


async def publish(kafka: TestKafkaBroker, held: HeldEvents, body: bytes) -> None:
    """Publish a customer event and wait until its step ran (the consumer only holds it)."""
    await kafka.publish(body, CUSTOMER_EVENTS)
    await held.queue.idle()


def effects(world: World) -> list[str]:
    return [event_id for kind, event_id in world.journal if kind == "effect"]


async def test_a_published_event_reaches_the_integration_once() -> None:
    world = World()
    broker, held = routed(world)
    async with TestKafkaBroker(broker) as kafka:
        await publish(kafka, held, event(version=2).to_bytes())
        await publish(kafka, held, event(version=2).to_bytes())  # redelivered
    assert effects(world) == ["evt_1"]
    assert [r["outcome"] for r in world.results()] == ["synced", "duplicate"]


async def test_a_replay_of_a_failed_step_calls_the_integration_again() -> None:
    world = World([error_for_status("circle", 422, "rejected")])
    broker, held = routed(world)
    async with TestKafkaBroker(broker) as kafka:
        await publish(kafka, held, event().to_bytes())
        replay = event().model_copy(update={"replay_id": "rpl_1"})
        await kafka.publish(replay.to_bytes(), replay_topic("circle"))
    assert [r["outcome"] for r in world.results()] == ["failed", "synced"]
    assert effects(world) == ["evt_1"]  # the replay's (the failed attempt had none)


async def test_an_unreadable_message_is_skipped_and_counted() -> None:
    world = World()
    broker, held = routed(world)
    async with TestKafkaBroker(broker) as kafka:
        await publish(kafka, held, b'{"not": "an event"}')
        await publish(kafka, held, event().to_bytes())  # the next one still runs
    assert effects(world) == ["evt_1"]
    assert world.metric("switchboard_sync_results_total", outcome="unreadable") == 1
