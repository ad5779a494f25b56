"""The one way every consumer in the system reads Kafka: typed handlers on FastStream routers,
with commit-after-effect as the routers' middleware.

A handler is a plain async function of the decoded pydantic message (or, for a batch
subscriber, the list of them). Around it, `CommitAfterEffect`:

- commits exactly the handled message (for a batch: each partition's last record) once the
  handler returned, so a crash before that redelivers it, and handlers are idempotent;
- skips, loudly and committed, a message no version of this code can read (`Unreadable`, raised
  by the decoders here): retrying cannot help, and it would block its partition forever;
- hands back any other failure (our store or Kafka): not committed, and after a pause the
  consumer seeks back to read it again;
- leaves a message uncommitted and untouched when the handler raises `HandBack` (the service is
  stopping: the partition's next owner reads it), and starts none while `may_start` says no.

Decoding happens in the subscriber's decoder, so FastStream also knows each topic's message type
and documents it (docs/asyncapi.json).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any, TypeVar, cast

from faststream import BaseMiddleware
from faststream.kafka import KafkaMessage, KafkaRouter
from pydantic import BaseModel, ValidationError

from .logging import get_logger
from .offsets import commit, commit_batch

log = get_logger()

M = TypeVar("M", bound=BaseModel)


class Unreadable(Exception):
    """The message is not the documented one."""


class HandBack(Exception):
    """The service is stopping: leave this message uncommitted for the partition's next owner."""


async def _sleep(seconds: float) -> bool:
    await asyncio.sleep(seconds)
    return True


@dataclass(frozen=True)
class CommitPolicy:
    #: what the messages are, for log lines (`event`, `result`, `failure`, …)
    kind: str
    #: hears each outcome: ok, unreadable, handed_back
    count: Callable[[str], None] = lambda _: None
    #: False while the service stops: the message is left for the next owner
    may_start: Callable[[], bool] = lambda: True
    #: sleeps before a hand-back; False if the service began stopping meanwhile
    pause: Callable[[float], Awaitable[bool]] = field(default=_sleep)
    hand_back_delay: float = 1.0
    #: False: the handler only takes the message in, and whoever finishes it settles it (the
    #: worker's step queue, through its offset tracker); `settle` then marks an unreadable
    #: message done in the same order
    commit_on_return: bool = True
    settle: Callable[[KafkaMessage], Awaitable[None]] | None = None


def decode_as(model: type[M]) -> Callable[[KafkaMessage], Awaitable[M]]:
    """The subscriber's decoder for one `model` per message."""

    async def decode(msg: KafkaMessage) -> M:
        try:
            return model.model_validate_json(cast(bytes, msg.body))
        except ValidationError as exc:
            raise Unreadable(str(exc)[:300]) from None

    return decode


def decode_batch_as(
    model: type[M], kind: str, count: Callable[[str], None] = lambda _: None
) -> Callable[[KafkaMessage], Awaitable[list[M]]]:
    """The decoder of a batch subscriber: every readable record, in order; each unreadable one is
    logged and counted, and skipped with the batch (one bad record does not block the rest)."""

    async def decode(msg: KafkaMessage) -> list[M]:
        found: list[M] = []
        for body in cast(list[bytes], msg.body):  # a batch message's body is its records' bodies
            try:
                found.append(model.model_validate_json(body))
            except ValidationError as exc:
                log.error("message_unreadable", kind=kind, error=str(exc)[:300])
                count("unreadable")
        return found

    return decode


async def commit_message(msg: KafkaMessage) -> None:
    if isinstance(msg.raw_message, tuple | list):
        await commit_batch(msg)
    else:
        await commit(msg)


class CommitAfterEffect(BaseMiddleware):
    def __init__(self, msg: Any, /, *, context: Any, policy: CommitPolicy) -> None:
        super().__init__(msg, context=context)
        self.policy = policy

    async def consume_scope(self, call_next: Callable[[Any], Awaitable[Any]], msg: Any) -> Any:
        policy = self.policy
        if not policy.may_start():
            return None  # stopping: not started, not committed; the next owner reads it
        try:
            result = await call_next(msg)
        except Unreadable as exc:
            log.error("message_unreadable", kind=policy.kind, error=str(exc))
            policy.count("unreadable")
            await (policy.settle or commit_message)(msg)
            return None
        except HandBack:
            policy.count("handed_back")
            return None
        except Exception:
            log.exception("handed_back", kind=policy.kind)
            policy.count("handed_back")
            if await policy.pause(policy.hand_back_delay):
                await msg.nack()  # seek back: this consumer reads it again
            return None
        policy.count("ok")
        if policy.commit_on_return:
            await commit_message(msg)
        return result


def consumer_router(policy: CommitPolicy) -> KafkaRouter:
    """A router whose every subscriber commits after the effect, by `policy`."""
    return KafkaRouter(middlewares=[partial(CommitAfterEffect, policy=policy)])
