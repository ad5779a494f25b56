"""Kit API v4 client: the calls the sync needs, with Kit's upsert and tag semantics.

Kit's list endpoints (subscribers by email, tags) read from a replica that lags writes by ~30 s
(up to 5 min), so nothing here confirms a write by listing; lookups by id are consistent.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx

from libs.runtime.errors import PermanentProviderError
from libs.runtime.provider_http import ProviderHttp, error_message, provider_client
from libs.runtime.worker_metrics import WorkerMetrics

PAGE_SIZE = 1000  # Kit's maximum: one request covers almost every account's tags

#: the integration's one name (metrics, errors, settings); Kit is the provider's
INTEGRATION = "convertkit"


@dataclass(frozen=True)
class Upserted:
    id: int
    created: bool  # False: the subscriber existed already (only first_name was updated)


class KitClient:
    def __init__(self, client: httpx.AsyncClient, metrics: WorkerMetrics | None = None) -> None:
        self.http = ProviderHttp(INTEGRATION, client, metrics)
        self._tag_ids: dict[str, int] = {}  # casefolded name -> id; Kit tag names ignore case
        self._listed = False

    @staticmethod
    def make_http(
        base_url: str,
        api_key: str,
        timeout: float,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> httpx.AsyncClient:
        return provider_client(base_url, {"X-Kit-Api-Key": api_key}, timeout, transport)

    # -- subscribers ---------------------------------------------------------------------------
    async def find_subscriber(self, email: str) -> int | None:
        """The subscriber's id, or None. A miss right after a create is not proof of absence."""
        # status=all: the default (active) hides cancelled and bounced people, who still exist.
        params = {"email_address": email, "status": "all"}
        response = await self.http.request("GET", "/v4/subscribers", params=params)
        for subscriber in response.json().get("subscribers", []):
            if str(subscriber.get("email_address", "")).casefold() == email.casefold():
                return int(subscriber["id"])
        return None

    async def subscriber_email(self, subscriber_id: int) -> str | None:
        """The subscriber's address, read by id (consistent); None if Kit has no such one."""
        response = await self.http.request(
            "GET", "/v4/subscribers/{id}", path={"id": subscriber_id}, ok=(200, 404)
        )
        if response.status_code == 404:
            return None
        return str(response.json()["subscriber"]["email_address"])

    async def upsert_subscriber(self, email: str, first_name: str | None) -> Upserted:
        body: dict[str, Any] = {"email_address": email}
        if first_name:
            body["first_name"] = first_name
        # Upsert on email: 201 new, 200 existing, 202 new with fields applied later.
        response = await self.http.request("POST", "/v4/subscribers", ok=(200, 201, 202), json=body)
        return Upserted(int(response.json()["subscriber"]["id"]), response.status_code != 200)

    async def change_email(self, subscriber_id: int, email: str) -> bool:
        """Move the subscriber to `email`; False if another subscriber already has it."""
        response = await self.http.request(
            "PUT",
            "/v4/subscribers/{id}",
            path={"id": subscriber_id},
            ok=(200, 422),
            json={"email_address": email},
        )
        if response.status_code == 200:
            return True
        message = error_message(response)
        if "taken" not in message.lower():  # any other 422 (e.g. an invalid address) is real
            raise PermanentProviderError(
                INTEGRATION, message, status=422, endpoint="PUT /v4/subscribers/{id}"
            )
        return False

    async def subscriber_tags(self, subscriber_id: int) -> list[str]:
        names = []
        async for tag in self._pages("/v4/subscribers/{id}/tags", "tags", {"id": subscriber_id}):
            self._remember(tag)
            names.append(str(tag["name"]))
        return names

    # -- tags ----------------------------------------------------------------------------------
    async def tag_id(self, name: str, *, create: bool) -> int | None:
        """The id of the tag called `name`; created when missing and `create` is set."""
        key = name.casefold()
        if key not in self._tag_ids and not self._listed:
            async for tag in self._pages("/v4/tags", "tags"):
                self._remember(tag)
            self._listed = True
        if key not in self._tag_ids and create:
            # Idempotent on the name: a tag another worker created meanwhile (or one the lagging
            # list missed) comes back with 200 instead of being duplicated.
            response = await self.http.request(
                "POST", "/v4/tags", ok=(200, 201), json={"name": name}
            )
            self._remember(response.json()["tag"])
        return self._tag_ids.get(key)

    async def add_tag(self, name: str, email: str) -> None:
        tag_id = await self.tag_id(name, create=True)
        try:
            # 201 newly tagged, 200 already tagged: both mean done.
            await self.http.request(
                "POST",
                "/v4/tags/{tag_id}/subscribers",
                path={"tag_id": tag_id},
                ok=(200, 201),
                json={"email_address": email},
            )
        except PermanentProviderError as error:
            if error.status != 404:
                raise
            # The tag was deleted in Kit after we cached its id, or the subscriber is gone:
            # forget the id so a replay resolves (or recreates) the tag.
            self._tag_ids.pop(name.casefold(), None)
            raise PermanentProviderError(
                INTEGRATION,
                f"tag {name!r} or the subscriber does not exist",
                status=404,
                endpoint=error.endpoint,
                code="not_found",
            ) from None

    async def remove_tag(self, name: str, email: str) -> None:
        tag_id = await self.tag_id(name, create=False)
        if tag_id is None:
            return  # no such tag in the account, so nobody carries it
        # 404 means "no such tagging" here (the id was just read from Kit): already done.
        await self.http.request(
            "DELETE",
            "/v4/tags/{tag_id}/subscribers",
            path={"tag_id": tag_id},
            ok=(200, 204, 404),
            params={"email_address": email},
        )

    async def remove_tag_by_id(self, name: str, subscriber_id: int) -> None:
        tag_id = await self.tag_id(name, create=False)
        if tag_id is None:
            return
        # 404: no such tagging, or no such subscriber any more; either way the tag is off.
        await self.http.request(
            "DELETE",
            "/v4/tags/{tag_id}/subscribers/{id}",
            path={"tag_id": tag_id, "id": subscriber_id},
            ok=(200, 204, 404),
        )

    def knows_tags(self) -> bool:
        """Whether the tag ids are known (else the first `tag_id` lists the tags: a call)."""
        return self._listed

    async def tagged_page(
        self, tag_id: int, after: str | None
    ) -> tuple[list[tuple[int, str]], str | None]:
        """One page (1,000, Kit's most) of the subscribers carrying the tag, whatever their
        state (an unsubscribed one still carries its tags), as (id, address); and the cursor
        of the next page (None: the last). Kit's lists lag its writes by up to minutes."""
        params: dict[str, Any] = {"per_page": PAGE_SIZE, "status": "all"}
        if after:
            params["after"] = after
        response = await self.http.request(
            "GET", "/v4/tags/{tag_id}/subscribers", path={"tag_id": tag_id}, params=params
        )
        body = response.json()
        found = [
            (int(r["id"]), str(r.get("email_address") or "")) for r in body.get("subscribers", [])
        ]
        pagination = body.get("pagination") or {}
        more = pagination.get("has_next_page") and pagination.get("end_cursor")
        return found, str(pagination["end_cursor"]) if more else None

    # -- helpers -------------------------------------------------------------------------------
    def _remember(self, tag: dict[str, Any]) -> None:
        self._tag_ids[str(tag["name"]).casefold()] = int(tag["id"])

    async def _pages(
        self, template: str, key: str, path: dict[str, Any] | None = None
    ) -> AsyncIterator[dict[str, Any]]:
        """Every record of a cursor-paginated list."""
        params: dict[str, Any] = {"per_page": PAGE_SIZE}
        while True:
            response = await self.http.request("GET", template, path=path, params=params)
            body = response.json()
            for record in body.get(key, []):
                yield record
            pagination = body.get("pagination") or {}
            if not pagination.get("has_next_page") or not pagination.get("end_cursor"):
                return
            params = {"per_page": PAGE_SIZE, "after": pagination["end_cursor"]}
