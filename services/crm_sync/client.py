"""HubSpot CRM v3 client: read a contact by email, and upsert it by email in one call.

Batch upsert with `idProperty=email` is race-free (no search-then-create, whose index lags), and
reading by `idProperty=email` is a direct lookup, not the lagging search API.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import quote

import httpx

from libs.runtime.errors import PermanentProviderError, ProviderError, TransientProviderError
from libs.runtime.provider_http import ProviderHttp, bearer_client
from libs.runtime.worker_metrics import WorkerMetrics

CONTACTS = "/crm/v3/objects/contacts"
UPSERT = f"{CONTACTS}/batch/upsert"

#: the integration's one name (metrics, errors, settings); HubSpot is the provider's
INTEGRATION = "crm"


class HubSpotClient:
    def __init__(self, client: httpx.AsyncClient, metrics: WorkerMetrics | None = None) -> None:
        self.http = ProviderHttp(INTEGRATION, client, metrics)

    #: an httpx client for the API, with the bearer token on every call
    make_http = staticmethod(bearer_client)

    async def get_contact(self, email: str, names: Iterable[str]) -> dict[str, str] | None:
        """The contact's values of `names` ("" when unset), or None if no contact has `email`."""
        wanted = sorted(names)
        response = await self.http.request(
            "GET",
            CONTACTS + "/{email}",
            path={"email": quote(email, safe="@")},
            ok=(200, 404),
            params={"idProperty": "email", "properties": ",".join(wanted)},
        )
        if response.status_code == 404:
            return None
        properties = response.json().get("properties") or {}
        return {name: str(properties.get(name) or "") for name in wanted}

    async def change_email(self, previous: str, email: str) -> bool:
        """Give the contact at `previous` the address `email`. False when that cannot be done as
        asked: no contact has `previous` any more (404), or another one already has `email`
        (409 CONFLICT); the caller then reads again."""
        response = await self.http.request(
            "PATCH",
            CONTACTS + "/{email}",
            path={"email": quote(previous, safe="@")},
            ok=(200, 404, 409),
            params={"idProperty": "email"},
            json={"properties": {"email": email}},
        )
        return response.status_code == 200

    async def upsert_contact(self, email: str, properties: Mapping[str, str]) -> None:
        body = {"inputs": [{"idProperty": "email", "id": email, "properties": dict(properties)}]}
        response = await self.http.request("POST", UPSERT, ok=(200, 201, 207), json=body)
        payload: dict[str, Any] = response.json()
        errors = payload.get("errors") or []
        if errors or not payload.get("results"):
            # 207 Multi-Status: the batch call succeeded but our one input did not.
            raise item_error(errors[0] if errors else {}, response.status_code)


def item_error(error: dict[str, Any], status: int) -> ProviderError:
    category = str(error.get("category") or "BATCH_ERROR")
    message = str(error.get("message") or "the upsert returned no contact")
    kind = TransientProviderError if category == "RATE_LIMITS" else PermanentProviderError
    return kind(
        INTEGRATION, message, status=status, endpoint=f"POST {UPSERT}", code=category.lower()
    )
