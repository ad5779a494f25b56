"""Each stand-in finds records by email through an index; every write that sets, moves or drops
an address keeps it right, so a lookup answers what a scan of every record would."""

from __future__ import annotations

from sandbox.circle.store import CircleStore
from sandbox.hubspot.store import HubSpotStore
from sandbox.kit.store import KitStore


def test_circle_finds_created_members_and_forgets_removed_ones() -> None:
    store = CircleStore(["Members"])
    member = store.create_member("Ann@Example.com ", "Ann", True)
    assert store.find_member("ann@example.com") is member
    store.remove_member(member.id)
    assert store.find_member("ann@example.com") is None
    store.reset()
    assert store.find_member("ann@example.com") is None


def test_kit_follows_a_change_of_address() -> None:
    store = KitStore()
    subscriber, created = store.upsert("old@example.com", "Ann", "active", {})
    assert created
    assert store.find("OLD@example.com") is subscriber
    store.update(subscriber.id, email="new@example.com")
    assert store.find("new@example.com") is subscriber
    assert store.find("old@example.com") is None
    assert store.listed("all", email="new@example.com") == [subscriber]
    assert store.listed("all", email="old@example.com") == []
    assert store.listed("cancelled", email="new@example.com") == []


def test_hubspot_follows_a_change_of_address() -> None:
    store = HubSpotStore([])
    contact, created = store.upsert("old@example.com", {"firstname": "Ann"})
    assert created
    assert store.find("old@example.com") is contact
    store.update(contact, {"email": "new@example.com"})
    assert store.find("new@example.com") is contact
    assert store.find("old@example.com") is None
    store.update(contact, {"firstname": "Anne"})  # no address in the change: still found
    assert store.find("new@example.com") is contact
