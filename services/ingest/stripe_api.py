"""The few Stripe API reads ingest needs to identify a customer (subscription and dispute
events carry no email, disputes no customer)."""

from __future__ import annotations

from typing import Any

import httpx


class StripeApiError(Exception):
    """Stripe could not answer; the event stays unfinished and the relay tries again later."""


class StripeApi:
    def __init__(self, client: httpx.AsyncClient) -> None:
        self._client = client

    @classmethod
    def make_client(cls, base_url: str, api_key: str, timeout: float = 10.0) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            base_url=base_url.rstrip("/"),
            headers={"Authorization": f"Bearer {api_key}"},
            timeout=timeout,
        )

    async def _get(self, path: str) -> dict[str, Any] | None:
        try:
            response = await self._client.get(path)
        except httpx.HTTPError as exc:
            raise StripeApiError(f"GET {path}: {type(exc).__name__}") from None
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise StripeApiError(f"GET {path}: HTTP {response.status_code}")
        body: dict[str, Any] = response.json()
        return body

    async def customer(self, customer_id: str) -> dict[str, Any] | None:
        return await self._get(f"/v1/customers/{customer_id}")

    async def charge(self, charge_id: str) -> dict[str, Any] | None:
        return await self._get(f"/v1/charges/{charge_id}")
