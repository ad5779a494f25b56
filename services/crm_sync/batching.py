"""Contact upserts of many customers, sent together: up to 100 per HubSpot call, gathered for a
short window (settings `hubspot_batch_size`, `hubspot_batch_wait_seconds`).

Each customer's upsert still answers on its own: its contact's values, or its own error out of a
207 Multi-Status (an invalid value of one customer fails only that customer). A failure of the
whole call (429, 5xx, a timeout) is every customer's of that batch, and each retries as usual.
One customer never has two upserts in flight (a worker handles a customer's events in order), so
a batch never reorders one customer's writes.
"""

from __future__ import annotations

from collections.abc import Mapping

from libs.runtime.batcher import Batcher
from libs.runtime.errors import PermanentProviderError, ProviderError

from .client import HubSpotClient

Input = tuple[str, Mapping[str, str]]


class ContactUpserts:
    def __init__(self, client: HubSpotClient, *, max_items: int, max_wait: float) -> None:
        self.client = client
        self._batcher: Batcher[Input, dict[str, str]] = Batcher(
            self._flush, max_items=max_items, max_wait=max_wait
        )

    async def upsert(self, email: str, properties: Mapping[str, str]) -> dict[str, str]:
        """Create or update the contact at `email`; its values of `properties` as answered.
        Raises this contact's `ProviderError`."""
        return await self._batcher.submit((email, dict(properties)))

    async def aclose(self) -> None:
        """Send what is gathered and wait for the calls in flight."""
        await self._batcher.aclose()

    async def _flush(self, inputs: list[Input]) -> list[dict[str, str] | BaseException]:
        # One call takes an email once. Two customers may share an address (Stripe allows it):
        # the second one's upsert goes in a call of its own after the first, not the whole batch
        # refused.
        answers: dict[int, dict[str, str] | ProviderError] = {}
        left = list(range(len(inputs)))
        while left:
            seen: set[str] = set()
            now: list[int] = []
            later: list[int] = []
            for i in left:
                email = inputs[i][0].lower()
                (later if email in seen else now).append(i)
                seen.add(email)
            answers.update(zip(now, await self._call([inputs[i] for i in now]), strict=True))
            left = later
        return [answers[i] for i in range(len(inputs))]

    async def _call(self, inputs: list[Input]) -> list[dict[str, str] | ProviderError]:
        """One batch call. Should HubSpot refuse a whole batch of several as invalid (a 400 for
        one bad input), each input is sent alone, so one customer's bad value never fails the
        others; a 429 or a 5xx stays the batch's (each step retries)."""
        try:
            return await self.client.upsert_contacts(inputs)
        except PermanentProviderError as error:
            if len(inputs) == 1 or error.status != 400:
                raise
        answers: list[dict[str, str] | ProviderError] = []
        for one in inputs:
            try:
                answers.extend(await self.client.upsert_contacts([one]))
            except ProviderError as alone:
                answers.append(alone)
        return answers
