"""A worker whose provider call waits on the pacer: stopping hands the message back (nothing was
sent, nothing is committed or recorded) instead of failing the step; and the settings that
configure pacing, per integration or for every worker."""

from __future__ import annotations

import asyncio

import pytest

from libs.runtime.consuming import HandBack
from libs.runtime.pacing import Pacer
from services.circle_sync.settings import CircleSettings
from services.convertkit_sync.settings import ConvertkitSettings
from services.crm_sync.settings import CrmSettings

from .test_worker_loop import FAILED, World, event


async def test_stopping_while_a_call_waits_for_its_turn_hands_the_message_back() -> None:
    world = World()
    pacer = Pacer(1, 3600.0)
    await pacer.acquire()  # the hour's only turn is taken
    sync = world.integration.sync

    async def paced_sync(evt: object, *, dry_run: bool, ledger: object = None) -> list[str]:
        await pacer.acquire()
        return await sync(evt, dry_run=dry_run)  # type: ignore[arg-type]

    world.integration.sync = paced_sync  # type: ignore[method-assign]
    task = asyncio.create_task(world.loop.process(event()))
    await asyncio.sleep(0.01)
    assert pacer.waiting == 1
    pacer.stop()
    world.loop.stop()
    with pytest.raises(HandBack):
        await asyncio.wait_for(task, 1.0)
    assert world.results() == []
    assert world.broker.on(FAILED) == []
    assert world.dedupe.processed == {}


def test_each_worker_paces_at_its_providers_published_limit() -> None:
    limits = {
        cls.integration: (s.rate_limit, s.rate_window_seconds, s.replicas, s.monthly_quota)
        for cls in (CircleSettings, ConvertkitSettings, CrmSettings)
        for s in [cls.load(env="local")]
    }
    assert limits == {
        "circle": (2000, 300.0, 1, 0),
        "convertkit": (120, 60.0, 1, 0),
        "crm": (100, 10.0, 1, 0),
    }


def test_the_integrations_own_setting_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SWITCHBOARD_RATE_LIMIT", "0")
    monkeypatch.setenv("SWITCHBOARD_CIRCLE_RATE_LIMIT", "500")
    monkeypatch.setenv("SWITCHBOARD_CIRCLE_REPLICAS", "4")
    monkeypatch.setenv("SWITCHBOARD_CIRCLE_MONTHLY_QUOTA", "5000")
    circle = CircleSettings.load(env="local")
    assert (circle.rate_limit, circle.replicas, circle.monthly_quota) == (500, 4, 5000)
    assert ConvertkitSettings.load(env="local").rate_limit == 0
