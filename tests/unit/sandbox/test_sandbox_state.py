from __future__ import annotations

import httpx
import pytest

from libs.runtime.local_defaults import LOCAL_DEFAULTS
from sandbox.ratelimit import RateLimiter
from sandbox.settings import RateLimit, SandboxSettings
from tests.unit.sandbox.conftest import CIRCLE, HUBSPOT, KIT, state


async def test_state_has_the_documented_shape(client: httpx.AsyncClient) -> None:
    body = await state(client)
    assert set(body["circle"]) >= {"members", "requests"}
    assert set(body["kit"]) >= {"subscribers", "requests"}
    assert set(body["hubspot"]) >= {"contacts", "requests"}
    assert set(body["zendesk"]) >= {"tickets", "requests"}
    assert [g["name"] for g in body["circle"]["access_groups"]] == ["Members", "Alumni"]


async def test_only_mutating_requests_count_as_requests(client: httpx.AsyncClient) -> None:
    await client.get("/kit/v4/tags", headers=KIT)
    await client.post("/kit/v4/tags", json={"name": "customer"}, headers=KIT)
    kit = (await state(client))["kit"]
    assert kit["requests"] == {"POST /v4/tags": 1}
    assert kit["reads"] == {"GET /v4/tags": 1}


async def test_reset_empties_everything_but_the_seeded_groups(client: httpx.AsyncClient) -> None:
    await client.post(
        "/circle/api/admin/v2/community_members", json={"email": "a@b.co"}, headers=CIRCLE
    )
    await client.post(
        "/hubspot/crm/v3/objects/contacts",
        json={"properties": {"email": "a@b.co"}},
        headers=HUBSPOT,
    )
    await client.post("/_sandbox/faults", json={"provider": "kit", "status": 503})
    assert (await client.post("/_sandbox/reset")).status_code == 200
    body = await state(client)
    assert body["circle"]["members"] == []
    assert body["circle"]["requests"] == {}
    assert body["hubspot"]["contacts"] == []
    assert body["faults"] == []
    assert [g["name"] for g in body["circle"]["access_groups"]] == ["Members", "Alumni"]


async def test_reset_one_provider(client: httpx.AsyncClient) -> None:
    await client.post("/kit/v4/tags", json={"name": "customer"}, headers=KIT)
    await client.post(
        "/circle/api/admin/v2/community_members", json={"email": "a@b.co"}, headers=CIRCLE
    )
    await client.post("/_sandbox/reset", params={"provider": "kit"})
    body = await state(client)
    assert body["kit"]["tags"] == []
    assert len(body["circle"]["members"]) == 1
    bad = await client.post("/_sandbox/reset", params={"provider": "nowhere"})
    assert bad.status_code == 422


def test_rolling_window_frees_slots_as_they_age() -> None:
    now = [0.0]
    limiter = RateLimiter(RateLimit(limit=2, window_s=10.0), clock=lambda: now[0])
    assert limiter.hit("k") is None
    now[0] = 4.0
    assert limiter.hit("k") is None
    assert limiter.hit("k") == 6.0  # the first hit leaves the window at t=10
    assert limiter.hit("other") is None  # each key has its own window
    now[0] = 10.0
    assert limiter.hit("k") is None


def test_zero_limit_means_unlimited() -> None:
    limiter = RateLimiter(RateLimit(limit=0, window_s=1.0))
    assert all(limiter.hit("k") is None for _ in range(1000))


def test_settings_fall_back_to_the_local_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SWITCHBOARD_CIRCLE_TOKEN", raising=False)
    monkeypatch.setenv("SWITCHBOARD_SANDBOX_KIT_RATE_LIMIT", "7")
    monkeypatch.setenv("SWITCHBOARD_STRIPE_WEBHOOK_SECRETS", "whsec_a, whsec_b")
    settings = SandboxSettings()
    assert settings.circle_token == LOCAL_DEFAULTS["SWITCHBOARD_CIRCLE_TOKEN"]
    assert settings.rate_limit("kit") == RateLimit(limit=7, window_s=60.0)
    assert settings.webhook_secrets == ["whsec_a", "whsec_b"]
