"""Zendesk Support tickets: create (with an Idempotency-Key), find by external id, comment,
solve. Auth is an API token: Basic `{agent_email}/token:{api_token}`. Every httpx outcome is
translated into the runtime's error tree by `ProviderHttp`."""

from __future__ import annotations

from typing import Any

import httpx

from libs.runtime.provider_http import ProviderHttp

V2 = "/api/v2"


class ZendeskClient:
    def __init__(self, http: ProviderHttp) -> None:
        self.http = http

    @staticmethod
    def make_client(
        base_url: str, email: str, token: str, timeout_seconds: float = 10.0
    ) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            base_url=base_url.rstrip("/"),
            auth=httpx.BasicAuth(f"{email}/token", token),
            timeout=httpx.Timeout(timeout_seconds, connect=5.0),
            limits=httpx.Limits(max_connections=10),
            headers={"Accept": "application/json", "User-Agent": "switchboard-support"},
        )

    async def find_by_external_id(self, external_id: str) -> dict[str, Any] | None:
        response = await self.http.request(
            "GET", f"{V2}/tickets", params={"external_id": external_id}
        )
        tickets = response.json().get("tickets") or []
        return dict(tickets[0]) if tickets else None

    async def create_ticket(self, body: dict[str, Any], idempotency_key: str) -> dict[str, Any]:
        response = await self.http.request(
            "POST",
            f"{V2}/tickets",
            ok=(200, 201),
            json=body,
            headers={"Idempotency-Key": idempotency_key},
        )
        return dict(response.json()["ticket"])

    async def add_comment(self, ticket_id: int, body: str) -> None:
        await self.http.request(
            "PUT",
            f"{V2}/tickets/{{id}}",
            path={"id": ticket_id},
            json={"ticket": {"comment": {"body": body, "public": False}}},
        )

    async def solve(self, ticket_id: int, note: str) -> None:
        await self.http.request(
            "PUT",
            f"{V2}/tickets/{{id}}",
            path={"id": ticket_id},
            json={"ticket": {"status": "solved", "comment": {"body": note, "public": False}}},
        )

    async def aclose(self) -> None:
        await self.http.client.aclose()
