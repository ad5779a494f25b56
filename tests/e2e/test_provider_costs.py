"""What a customer change costs each provider, counted by the sandbox (reads included): the least
the APIs allow, because each worker plans against its ledger instead of reading first.

- a new purchase, `paid` and then the `active` follow-up: Circle 2 (create, grant), Kit 2
  (upsert, tag), HubSpot at most 1 (a batch upsert, shared by concurrent customers);
- a refund: Circle 1 (revoke), Kit 2 (untag `customer`, tag `churned`), HubSpot 1;
- an email change: Circle 3 (create at the new address, grant, revoke the old), Kit 1 (the
  subscriber is moved in place, tags and all), HubSpot 1 (the contact is moved in place).

Each figure is measured on a quiet system (nothing else in flight) over several customers, after
a warm-up purchase and refund: each worker looks up a group or tag id once per process, and Kit's
`churned` tag is created by the first refund ever."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

from tests.conftest import unique_email

from .conftest import System, circle_member, wait_for
from .test_all_integrations import crm_lifecycle, kit_tags

pytestmark = pytest.mark.e2e

PROVIDERS = ("circle", "kit", "hubspot")
CUSTOMERS = 4


def calls(system: System) -> dict[str, int]:
    state = system.state()
    return {p: int(state[p]["calls"]) for p in PROVIDERS}


def quiet(system: System, still: float = 2.0, most: float = 60.0) -> dict[str, int]:
    """The providers' call counts once no call came for `still` seconds."""
    deadline = time.monotonic() + most
    last, since = calls(system), time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.25)
        now = calls(system)
        if now != last:
            last, since = now, time.monotonic()
        elif time.monotonic() - since >= still:
            return now
    raise AssertionError("the providers never went quiet")


def cost(system: System, change: Callable[[], Any], done: Callable[[], bool]) -> dict[str, int]:
    before = quiet(system)
    change()
    wait_for(done, timeout=90, what="every integration converged")
    after = quiet(system)
    return {p: after[p] - before[p] for p in PROVIDERS}


def purchased(system: System, email: str) -> bool:
    member = circle_member(system.state(), email) or {}
    return (
        "Members" in member.get("access_groups", [])
        and kit_tags(system, email) == ["customer"]
        and crm_lifecycle(system, email) == ("customer", "active")
    )


def purchase(system: System, emails: list[str]) -> list[str]:
    return [system.trigger("purchase", email=e)["customer_id"] for e in emails]


def test_each_change_costs_the_least_calls_the_apis_allow(system: System) -> None:
    warm = unique_email("warmup")
    [warm_id] = purchase(system, [warm])
    wait_for(lambda: purchased(system, warm), timeout=120, what="the warm-up purchase")
    system.trigger("refund", customer=warm_id, created=int(time.time()) + 1)
    wait_for(lambda: kit_tags(system, warm) == ["churned"], timeout=60, what="the warm-up refund")

    emails = [unique_email("cost") for _ in range(CUSTOMERS)]
    ids: list[str] = []
    spent = cost(
        system,
        lambda: ids.extend(purchase(system, emails)),
        lambda: all(purchased(system, e) for e in emails),
    )
    # `paid` and `active` both reached every worker; `active` changed nothing they hold: 0 calls
    assert spent["circle"] == 2 * CUSTOMERS
    assert spent["kit"] == 2 * CUSTOMERS
    assert 1 <= spent["hubspot"] <= CUSTOMERS  # concurrent customers share batch upserts

    later = int(time.time()) + 1
    spent = cost(
        system,
        lambda: [system.trigger("refund", customer=c, created=later) for c in ids],
        lambda: all(
            not (circle_member(system.state(), e) or {}).get("access_groups")
            and kit_tags(system, e) == ["churned"]
            and (crm_lifecycle(system, e) or ("", ""))[1] == "canceled"
            for e in emails
        ),
    )
    assert spent["circle"] == CUSTOMERS
    assert spent["kit"] == 2 * CUSTOMERS
    assert 1 <= spent["hubspot"] <= CUSTOMERS


def test_an_email_change_costs_only_the_move(system: System) -> None:
    old, new = unique_email("before"), unique_email("after")
    [customer] = purchase(system, [old])
    wait_for(lambda: purchased(system, old), timeout=120, what="the purchase")
    spent = cost(
        system,
        lambda: system.trigger(
            "email_change", customer=customer, new_email=new, created=int(time.time()) + 1
        ),
        lambda: (
            purchased(system, new)
            and not (circle_member(system.state(), old) or {}).get("access_groups")
        ),
    )
    # Circle cannot change a member's address: a member at the new one gets the group, the
    # old one loses it. Kit and HubSpot move the subscriber and the contact in place.
    assert spent == {"circle": 3, "kit": 1, "hubspot": 1}
