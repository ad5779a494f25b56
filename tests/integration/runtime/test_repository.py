"""The one compare-and-set, against the real store and the fake alike: the fake is only worth
using in handler tests if it answers as the store does."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from pydantic import BaseModel, ConfigDict

from libs.runtime.memory_repository import InMemoryRepository
from libs.runtime.mongo import ConcurrentUpdate
from libs.runtime.repository import MongoRepository, Repository

Document = dict[str, Any]


class Counter(BaseModel):
    model_config = ConfigDict(frozen=True)
    count: int = 0
    tags: tuple[str, ...] = ()


class CounterCodec:
    def to_document(self, value: Counter) -> Document:
        return value.model_dump(mode="python")

    def from_document(self, document: Document) -> Counter:
        return Counter.model_validate(document)


def bump(tag: str) -> Any:
    """An idempotent change: adds `tag` once, counting it."""

    def change(current: Counter | None) -> Counter:
        current = current or Counter()
        if tag in current.tags:
            return current
        return Counter(count=current.count + 1, tags=(*current.tags, tag))

    return change


@pytest.fixture(params=["mongo", "fake"])
async def repo(request: pytest.FixtureRequest, mongo_db: Any) -> AsyncIterator[Repository[Counter]]:
    if request.param == "fake":
        yield InMemoryRepository(CounterCodec())
    else:
        yield MongoRepository(mongo_db["counters"], CounterCodec())


async def test_update_creates_then_changes_and_a_repeat_writes_nothing(
    repo: Repository[Counter],
) -> None:
    first = await repo.update("c1", bump("a"))
    assert (first.before, first.after, first.written) == (None, Counter(count=1, tags=("a",)), True)
    second = await repo.update("c1", bump("b"))
    assert second.after == Counter(count=2, tags=("a", "b"))
    again = await repo.update("c1", bump("b"))
    assert not again.written
    assert await repo.get("c1") == Counter(count=2, tags=("a", "b"))


async def test_a_change_that_returns_none_writes_nothing(repo: Repository[Counter]) -> None:
    result = await repo.update("missing", lambda current: None)
    assert not result.written
    assert await repo.get("missing") is None


async def test_update_many_writes_new_and_existing_records_at_once(
    repo: Repository[Counter],
) -> None:
    await repo.update("old", bump("a"))
    results = await repo.update_many({"old": bump("b"), "new": bump("x"), "same": lambda c: c})
    assert results["old"].after == Counter(count=2, tags=("a", "b"))
    assert results["new"].before is None
    assert results["new"].written
    assert not results["same"].written
    assert await repo.get_many(["old", "new", "same"]) == {
        "old": Counter(count=2, tags=("a", "b")),
        "new": Counter(count=1, tags=("x",)),
    }


@pytest.mark.parametrize("kind", ["mongo", "fake"])
async def test_update_many_redoes_a_record_another_writer_changed_since_the_snapshot(
    mongo_db: Any, kind: str
) -> None:
    """The batch read `c1` at one revision; another writer wrote it before the batch's bulk
    write: the batch's change is redone on top of the other write, not lost and not doubled,
    and the result is judged against what the batch read."""
    repo: Repository[Counter] = (
        MongoRepository(mongo_db["counters"], CounterCodec())
        if kind == "mongo"
        else InMemoryRepository(CounterCodec())
    )
    await repo.update("c1", bump("a"))
    snapshot = await repo.snapshot(["c1", "c2"])
    await repo.update("c1", bump("other"))
    results = await repo.update_many({"c1": bump("batch"), "c2": bump("new")}, snapshot)
    assert results["c1"].before == Counter(count=1, tags=("a",))
    assert await repo.get("c1") == Counter(count=3, tags=("a", "other", "batch"))
    assert await repo.get("c2") == Counter(count=1, tags=("new",))


async def test_a_record_at_revision_zero_is_claimed_by_its_first_update(mongo_db: Any) -> None:
    await mongo_db["counters"].insert_one({"_id": "zero", "count": 1, "tags": [], "revision": 0})
    repo = MongoRepository(mongo_db["counters"], CounterCodec())
    assert (await repo.update("zero", bump("x"))).after == Counter(count=2, tags=("x",))


async def test_the_fake_loses_a_race_like_the_store_and_redoes_the_change() -> None:
    repo = InMemoryRepository(CounterCodec())
    await repo.update("c1", bump("a"))
    raced: list[str] = []

    def other_writer(record_id: str) -> None:
        if not raced:
            raced.append(record_id)
            repo.put(record_id, Counter(count=10, tags=("a", "other")))

    repo.interfere = other_writer
    result = await repo.update("c1", bump("mine"))
    assert result.after == Counter(count=11, tags=("a", "other", "mine"))


async def test_a_record_that_never_stops_changing_raises_concurrent_update() -> None:
    repo = InMemoryRepository(CounterCodec())
    await repo.update("c1", bump("a"))
    repo.interfere = lambda record_id: repo.put(record_id, Counter(count=99))
    with pytest.raises(ConcurrentUpdate):
        await repo.update("c1", bump("never"))


async def test_a_record_written_before_revisions_were_kept_is_updated_once(mongo_db: Any) -> None:
    """Records from before the repository have no `revision`: they read as revision 0 and are
    claimed by the first update, whose compare-and-set then holds like any other."""
    await mongo_db["counters"].insert_one({"_id": "legacy", "count": 5, "tags": ["old"]})
    repo = MongoRepository(mongo_db["counters"], CounterCodec())
    result = await repo.update("legacy", bump("new"))
    assert result.after == Counter(count=6, tags=("old", "new"))
    assert await repo.get("legacy") == Counter(count=6, tags=("old", "new"))
    batch = await repo.update_many({"legacy": bump("newer")})
    assert batch["legacy"].after == Counter(count=7, tags=("old", "new", "newer"))
