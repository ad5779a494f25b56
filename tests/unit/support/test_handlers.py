"""Support's handlers end to end on fakes: a failure published to an integration's failure topic
opens one incident with one Zendesk ticket, a later success resolves it and solves the ticket,
an outcome batch lands in the timeline once, and a replay reaches the replay topic. The messages
go through the production routers and middleware on FastStream's in-memory broker."""

from __future__ import annotations

from faststream.kafka import TestKafkaBroker

from libs.contracts import SYNC_RESULTS, CustomerEvent, SyncOutcome, failure_topic, replay_topic
from services.support import timelines
from services.support.incidents import IncidentRecord, record_id
from services.support.ports import step_id
from services.support.service import sweep_once

from .world import CUSTOMER, World, failure, result

FAILED = failure_topic("circle")


async def incident_record(world: World, integration: str = "circle") -> IncidentRecord:
    record = await world.records.incidents.get(record_id(CUSTOMER, integration))
    assert record is not None
    return record


async def step_status(world: World, event_id: str) -> str:
    step = await world.records.steps.get(step_id("circle", event_id))
    assert step is not None
    return str(step["status"])


async def test_a_failure_opens_one_incident_and_one_ticket_even_when_redelivered() -> None:
    world = World()
    async with TestKafkaBroker(world.broker) as kafka:
        await kafka.publish(failure().to_bytes(), FAILED)
        await kafka.publish(failure().to_bytes(), FAILED)  # redelivered
    record = await incident_record(world)
    assert record.open is not None
    assert record.open.ticket_id == 1
    assert list(world.zendesk.tickets) == [1]
    assert world.zendesk.tickets[1]["external_id"].endswith(record.open.incident_id)
    assert "jane@example.com" in world.zendesk.comments[1][0]
    failures = "switchboard_support_failures_total"
    assert world.metric(failures, integration="circle", outcome="opened") == 1
    assert world.metric(failures, integration="circle", outcome="duplicate") == 1
    assert await step_status(world, "evt_3") == "failed"


async def test_a_second_failure_comments_and_a_later_success_resolves_and_solves() -> None:
    world = World()
    async with TestKafkaBroker(world.broker) as kafka:
        await kafka.publish(failure(3, "evt_3").to_bytes(), FAILED)
        await kafka.publish(failure(4, "evt_4").to_bytes(), FAILED)
        await kafka.publish_batch(result(4, "evt_4").to_bytes(), topic=SYNC_RESULTS)
    record = await incident_record(world)
    assert record.open is None
    assert record.current is not None
    assert record.current.resolved_by_event_id == "evt_4"
    assert world.zendesk.tickets[1]["status"] == "solved"
    assert len(world.zendesk.comments[1]) == 3  # the ticket, the second failure, the resolution
    assert (await step_status(world, "evt_4"), await step_status(world, "evt_3")) == (
        "synced",
        "superseded",
    )
    assert world.metric("switchboard_support_incidents_resolved_total", integration="circle") == 1


async def test_an_older_success_leaves_the_incident_open() -> None:
    world = World()
    async with TestKafkaBroker(world.broker) as kafka:
        await kafka.publish(failure(5, "evt_5").to_bytes(), FAILED)
        await kafka.publish_batch(result(4, "evt_4").to_bytes(), topic=SYNC_RESULTS)
    assert (await incident_record(world)).open is not None
    assert world.zendesk.tickets[1]["status"] == "open"


async def test_a_result_batch_lands_in_the_timeline_once() -> None:
    world = World()
    batch = [
        result(1, "evt_1").to_bytes(),
        result(2, "evt_2", SyncOutcome.FAILED).to_bytes(),
        result(2, "evt_2", integration="crm").to_bytes(),
    ]
    async with TestKafkaBroker(world.broker) as kafka:
        await kafka.publish_batch(*batch, topic=SYNC_RESULTS)
        await kafka.publish_batch(*batch, topic=SYNC_RESULTS)  # redelivered
        await kafka.publish_batch(b'{"not": "a result"}', topic=SYNC_RESULTS)
    entries = await timelines.timeline(world.records.timelines, CUSTOMER)
    assert [(e["integration"], e["event_id"]) for e in entries] == [
        ("circle", "evt_1"),
        ("circle", "evt_2"),
        ("crm", "evt_2"),
    ]
    # no incident: the successes read no incident record and wrote none
    assert world.incidents.documents == {}
    assert world.metric("switchboard_support_messages_total", kind="result", outcome="ok") == 6
    assert (
        world.metric("switchboard_support_messages_total", kind="result", outcome="unreadable") == 1
    )


async def test_a_failure_of_a_version_already_synced_is_superseded() -> None:
    world = World()
    async with TestKafkaBroker(world.broker) as kafka:
        await kafka.publish_batch(result(5, "evt_5").to_bytes(), topic=SYNC_RESULTS)
        await kafka.publish(failure(4, "evt_4").to_bytes(), FAILED)
    assert world.incidents.documents == {}
    assert world.zendesk.tickets == {}
    assert await step_status(world, "evt_4") == "superseded"


async def test_a_replay_of_a_failed_step_publishes_to_the_replay_topic() -> None:
    world = World()
    replayed: list[CustomerEvent] = []

    @world.broker.subscriber(replay_topic("circle"), group_id="test-replays")
    async def on_replay(event: CustomerEvent) -> None:
        replayed.append(event)

    async with TestKafkaBroker(world.broker) as kafka:
        await kafka.publish(failure().to_bytes(), FAILED)
        done = await world.support.replays.replay_one("circle", "evt_3")
    assert [(e.event_id, e.replay_id) for e in replayed] == [("evt_3", done.replay_id)]
    step = await world.records.steps.get(step_id("circle", "evt_3"))
    assert step is not None
    assert (step["status"], step["replays"], step["replay_id"]) == ("replayed", 1, done.replay_id)


async def test_an_effect_that_failed_is_carried_out_by_the_sweeper() -> None:
    world = World()
    world.zendesk.down = True
    async with TestKafkaBroker(world.broker) as kafka:
        await kafka.publish(failure().to_bytes(), FAILED)  # committed: the ticket waits
    assert (await incident_record(world)).open is not None
    assert world.zendesk.tickets == {}
    world.zendesk.down = False
    assert await sweep_once(world.support) == 1
    assert list(world.zendesk.tickets) == [1]
    assert await sweep_once(world.support) == 0  # nothing pending any more
