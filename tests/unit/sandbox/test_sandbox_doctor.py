"""The reads `switchboard doctor` makes, answered as the real APIs answer them, and
`/_sandbox/doctor`, which makes the account settings wrong for a test."""

from __future__ import annotations

import httpx

from .conftest import CIRCLE, HUBSPOT, HUBSPOT_TOKEN, KIT, STRIPE, ZENDESK, ZENDESK_EMAIL, state

RESTRICTED = {"Authorization": "Bearer rk_test_local_dev_only"}


async def test_each_provider_answers_its_cheap_authenticated_read(
    client: httpx.AsyncClient,
) -> None:
    community = await client.get("/circle/api/admin/v2/community", headers=CIRCLE)
    assert community.status_code == 200
    assert {"id", "name", "slug"} <= set(community.json())
    account = await client.get("/kit/v4/account", headers=KIT)
    assert account.status_code == 200
    assert {"id", "name", "primary_email_address"} <= set(account.json()["account"])
    me = await client.get("/zendesk/api/v2/users/me.json", headers=ZENDESK)
    assert me.json()["user"]["email"] == ZENDESK_EMAIL
    stripe = await client.get("/stripe/v1/account", headers=STRIPE)
    assert stripe.json()["object"] == "account"
    # Every one of them is a read, and none of them needs a fault to be refused.
    assert (await client.get("/kit/v4/account", headers={"X-Kit-Api-Key": "no"})).status_code == 401
    counts = await state(client)
    assert counts["kit"]["reads"] == {"GET /v4/account": 2}
    assert counts["kit"]["requests"] == {}


async def test_hubspot_token_info_gives_the_scopes_and_counts_as_a_read(
    client: httpx.AsyncClient,
) -> None:
    path = "/hubspot/oauth/v2/private-apps/get/access-token-info"
    info = await client.post(path, headers=HUBSPOT, json={"tokenKey": HUBSPOT_TOKEN})
    assert info.status_code == 200
    assert info.json()["scopes"] == ["crm.objects.contacts.read", "crm.objects.contacts.write"]
    wrong = await client.post(path, headers=HUBSPOT, json={"tokenKey": "another"})
    assert wrong.status_code == 401
    assert wrong.json()["category"] == "INVALID_AUTHENTICATION"
    counts = (await state(client))["hubspot"]
    assert counts["reads"] == {"POST /oauth/v2/private-apps/get/access-token-info": 2}
    assert counts["requests"] == {}


async def test_webhook_endpoints_point_at_the_sandbox_ingest_with_every_event(
    client: httpx.AsyncClient,
) -> None:
    listed = (await client.get("/stripe/v1/webhook_endpoints", headers=RESTRICTED)).json()
    assert listed["object"] == "list"
    [endpoint] = listed["data"]
    assert endpoint["url"] == "http://ingest.test/webhooks/stripe"
    assert endpoint["status"] == "enabled"
    assert endpoint["livemode"] is False
    assert "charge.refunded" in endpoint["enabled_events"]


async def test_a_restricted_key_is_refused_writes_unless_given_them(
    client: httpx.AsyncClient,
) -> None:
    probe = "/stripe/v1/customers/cus_nobody"
    refused = await client.post(probe, headers=RESTRICTED)
    assert refused.status_code == 403
    assert "does not have the required permissions" in refused.json()["error"]["message"]
    assert (await client.post(probe, headers=STRIPE)).status_code == 404  # a standard key
    await client.post("/_sandbox/doctor", json={"stripe_key_writes": True})
    assert (await client.post(probe, headers=RESTRICTED)).status_code == 404


async def test_the_doctor_control_merges_validates_and_resets(client: httpx.AsyncClient) -> None:
    endpoint = {"url": "https://staging.example.com/webhooks/stripe", "status": "disabled"}
    changed = await client.post("/_sandbox/doctor", json={"webhook_endpoints": [endpoint]})
    assert changed.status_code == 200
    await client.post("/_sandbox/doctor", json={"hubspot_scopes": ["crm.objects.deals.read"]})
    shown = (await client.get("/_sandbox/doctor")).json()
    assert shown["webhook_endpoints"][0]["status"] == "disabled"  # kept by the second change
    assert shown["hubspot_scopes"] == ["crm.objects.deals.read"]
    bad = await client.post("/_sandbox/doctor", json={"hubspot_scope": []})
    assert bad.status_code == 422
    assert bad.json()["error"] == "invalid_doctor_config"
    await client.post("/_sandbox/reset")
    assert (await client.get("/_sandbox/doctor")).json()["webhook_endpoints"] is None
    await client.post("/_sandbox/doctor", json={"stripe_key_writes": True})
    restored = (await client.delete("/_sandbox/doctor")).json()
    assert restored["stripe_key_writes"] is False
