"""Issue 2's thin path: a signed purchase → ingest → Kafka → circle_sync → Circle member."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

from sandbox.stripe.webhook import encode, sign
from tests.conftest import unique_email

from .conftest import System, circle_member, wait_for

pytestmark = pytest.mark.e2e

SECRET = "whsec_local_dev_only"
GRANT = "POST /api/admin/v2/access_groups/{id}/community_members"
CREATE = "POST /api/admin/v2/community_members"


def test_a_purchase_makes_a_circle_member_in_the_members_group(system: System) -> None:
    email = unique_email("purchase")
    sent = system.trigger("purchase", email=email)
    assert sent["ingest"]["status_code"] == 200

    member = wait_for(lambda: circle_member(system.state(), email), what="the Circle member")
    wait_for(
        lambda: "Members" in (circle_member(system.state(), email) or {}).get("access_groups", []),
        what="the Members access group",
    )
    assert member["email"].lower() == email.lower()


def test_the_same_webhook_five_times_concurrently_grants_once(system: System) -> None:
    email = unique_email("dup")
    event = system.trigger("purchase", email=email, deliver=False)["event"]
    payload = encode(event)
    before = system.state()["circle"]["requests"]

    async def deliver_five_times() -> list[httpx.Response]:
        async with httpx.AsyncClient(timeout=10) as client:
            headers = {
                "Stripe-Signature": sign(payload, SECRET, int(time.time())),
                "Content-Type": "application/json",
            }
            return await asyncio.gather(
                *(
                    client.post(
                        f"{system.ingest}/webhooks/stripe", content=payload, headers=headers
                    )
                    for _ in range(5)
                )
            )

    responses = asyncio.run(deliver_five_times())
    assert [r.status_code for r in responses] == [200] * 5
    assert sorted(r.json()["duplicate"] for r in responses) == [False, True, True, True, True]

    wait_for(
        lambda: "Members" in (circle_member(system.state(), email) or {}).get("access_groups", []),
        what="the Members access group",
    )
    time.sleep(2)  # let any (wrong) second grant arrive before counting
    after = system.state()
    members = [m for m in after["circle"]["members"] if m["email"].lower() == email.lower()]
    assert len(members) == 1
    grants = after["circle"]["requests"].get(GRANT, 0) - before.get(GRANT, 0)
    creates = after["circle"]["requests"].get(CREATE, 0) - before.get(CREATE, 0)
    assert (creates, grants) == (1, 1)
