"""Held events: the newest of a customer's held events runs and the older are recorded as
superseded (no call); a step that will wait long on the pacer is reported as `waiting`, with
when it is expected to run."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any, cast

import pytest
from faststream.kafka import KafkaMessage

from libs.runtime.held_events import HeldEvents, expected_wait
from libs.runtime.pacing import Pacer

from .test_worker_loop import RESULTS, World, event, settings


def no_kafka() -> KafkaMessage:
    """A message without a consumer (the in-memory broker's kind): nothing to commit."""
    return cast(KafkaMessage, type("Msg", (), {"raw_message": (), "consumer": None})())


def published(world: World) -> list[tuple[int, str, tuple[Any, ...]]]:
    return [(r["version"], r["outcome"], tuple(r["actions"])) for r in world.broker.on(RESULTS)]


async def test_of_three_held_events_only_the_newest_costs_calls() -> None:
    world = World()
    await world.loop.run_held(
        [
            event(version=1, event_id="e1"),
            event(version=2, event_id="e2"),
            event(version=3, event_id="e3"),
        ]
    )
    assert [e for kind, e in world.journal if kind == "effect"] == ["e3"]
    assert published(world) == [
        (1, "stale", ("superseded",)),
        (2, "stale", ("superseded",)),
        (3, "synced", tuple(world.results()[-1]["actions"])),
    ]
    assert world.metric("switchboard_sync_superseded_total") == 2


async def test_a_redelivery_held_with_its_original_is_answered_as_a_duplicate() -> None:
    world = World()
    await world.loop.run_held([event(version=1), event(version=1)])
    assert [outcome for _, outcome, _ in published(world)] == ["synced", "duplicate"]


def hold_steps_until(world: World, gate: asyncio.Event) -> None:
    """No held event runs until `gate` is set, so a backlog builds up."""
    run_held = world.loop.run_held

    async def held_back(events: list[Any]) -> None:
        await gate.wait()
        await run_held(events)

    world.loop.run_held = held_back  # type: ignore[method-assign]


def test_the_expected_wait_is_the_calls_ahead_over_the_rate() -> None:
    assert expected_wait(ahead=240, calls_per_event=1.0, rate=2.0) == 120.0
    assert expected_wait(ahead=240, calls_per_event=1.0, rate=0.0) == 0.0  # unpaced


async def test_a_step_behind_a_long_backlog_is_reported_as_waiting() -> None:
    world, gate = World(), asyncio.Event()
    hold_steps_until(world, gate)
    pacer = Pacer(120, 60.0)  # Kit: about 2 calls a second
    held = HeldEvents(world.loop, settings(parallel_steps=1), pacer)
    for n in range(60):
        await held.take(event(customer=f"c{n}", event_id=f"e{n}"), no_kafka())
    waiting = [r for r in world.broker.on(RESULTS) if r["outcome"] == "waiting"]
    # 40 events at ~1 call each ahead of the 40th: 20 s at 2 a second; the later ones wait more
    assert waiting
    assert waiting[0]["customer_id"] == "c39"
    expected = datetime.fromisoformat(waiting[-1]["expected_at"])
    assert (expected - datetime.now(UTC)).total_seconds() == pytest.approx(30.6, abs=2)
    gate.set()
    await asyncio.wait_for(held.queue.idle(), 5)
    await held.stop(1)


async def test_a_customer_waiting_with_several_events_is_reported_once() -> None:
    world, gate = World(), asyncio.Event()
    hold_steps_until(world, gate)
    held = HeldEvents(world.loop, settings(parallel_steps=1), Pacer(120, 60.0))
    for n in range(50):
        await held.take(event(customer=f"c{n}", event_id=f"e{n}"), no_kafka())
    # the purchase's second event (e.g. `invoice.paid` after the checkout) waits with the first
    await held.take(event(customer="c45", version=2, event_id="e45b"), no_kafka())
    waiting = [r["customer_id"] for r in world.broker.on(RESULTS) if r["outcome"] == "waiting"]
    assert waiting.count("c45") == 1
    gate.set()
    await asyncio.wait_for(held.queue.idle(), 5)
    await held.stop(1)
