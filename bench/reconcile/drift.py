"""Drift by hand, not measured: a person changes the drifted customers in each provider through
its HTTP API (the in-process sandbox's): Circle's `Members` removed, Kit's `customer` tag
removed, HubSpot's lifecycle stage set back to `lead` (cleared first: HubSpot never moves a stage
backwards). The calls are paced at the provider's published limit, and the sandbox's counters
and rate-limit windows are cleared afterwards, so the sweep is measured alone."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Final

import httpx

from libs.runtime.pacing import Pacer

from .population import BenchCustomer
from .world import PROVIDER, TOKENS, World

Log = Callable[[str], None]
Call = Callable[[], Awaitable[httpx.Response]]

CIRCLE: Final = "/circle/api/admin/v2"
HUBSPOT_CONTACTS: Final = "/hubspot/crm/v3/objects/contacts"
AUTH: Final = {
    "circle": {"Authorization": f"Bearer {TOKENS['circle_token']}"},
    "kit": {"X-Kit-Api-Key": TOKENS["kit_api_key"]},
    "hubspot": {"Authorization": f"Bearer {TOKENS['hubspot_token']}"},
}


async def drift(
    world: World, people: Sequence[BenchCustomer], kit_ids: dict[str, int], log: Log
) -> None:
    drifted = [p for p in people if p.drifted]
    if not drifted:
        return
    sandbox = world.sandbox
    members = next(g.id for g in sandbox.circle.groups.values() if g.name == "Members")
    customer = next(t.id for t in sandbox.kit.tags.values() if t.name == "customer")
    async with world.client() as client:

        def circle(p: BenchCustomer) -> list[Call]:
            path = f"{CIRCLE}/access_groups/{members}/community_members"
            return [lambda: client.delete(path, params={"email": p.email}, headers=AUTH["circle"])]

        def kit(p: BenchCustomer) -> list[Call]:
            path = f"/kit/v4/tags/{customer}/subscribers/{kit_ids[p.customer_id]}"
            return [lambda: client.delete(path, headers=AUTH["kit"])]

        def hubspot(p: BenchCustomer) -> list[Call]:
            path, params = f"{HUBSPOT_CONTACTS}/{p.email}", {"idProperty": "email"}
            return [
                lambda stage=stage: client.patch(  # type: ignore[misc]
                    path,
                    params=params,
                    json={"properties": {"lifecyclestage": stage}},
                    headers=AUTH["hubspot"],
                )
                for stage in ("", "lead")
            ]

        for provider, change in (("circle", circle), ("kit", kit), ("hubspot", hubspot)):
            await _by_hand(world, provider, drifted, change, log)
    for provider in PROVIDER.values():
        sandbox.logs[provider].clear()
        sandbox.limiters[provider].reset()
    sandbox.hubspot_search_limiter.reset()


async def _by_hand(
    world: World,
    provider: str,
    drifted: Sequence[BenchCustomer],
    change: Callable[[BenchCustomer], list[Call]],
    log: Log,
) -> None:
    limit = world.sandbox.settings.rate_limit(provider)
    pacer = Pacer(limit.limit, limit.window_s)
    started, calls = time.monotonic(), 0
    for person in drifted:
        for call in change(person):
            await pacer.acquire()
            response = await call()
            calls += 1
            if response.status_code >= 300:
                raise RuntimeError(
                    f"drift at {provider} answered {response.status_code}: {response.text[:200]}"
                )
    log(
        f"  drift by hand at {provider}: {len(drifted)} customers, {calls} calls in "
        f"{time.monotonic() - started:.1f} s"
    )
