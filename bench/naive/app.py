"""The brittle chain a founder has today, as a reference for the benchmark (never shipped).

One webhook handler that, like a Zapier-style chain of steps, calls every provider inline and
in order before it answers Stripe: Circle (find or create the member, add to `Members`), Kit
(create the subscriber, tag `customer`), HubSpot (find the contact, create it or set
`lifecyclestage=customer`). A refund takes the member out of `Members` and the tag off. No queue,
no dedupe, no retries: any provider error answers 500 and leaves the earlier steps done.

It calls the same sandbox paths with the same credentials as the real clients
(services/*/client.py, libs/runtime/local_defaults.py).

    NAIVE_PORT=26090 NAIVE_SANDBOX_URL=http://127.0.0.1:26070 python -m bench.naive.app
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from libs.runtime.local_defaults import LOCAL_DEFAULTS
from services.ingest.signature import SignatureError, verify_signature

SANDBOX = os.environ.get("NAIVE_SANDBOX_URL", "http://127.0.0.1:26070")
SECRETS = os.environ.get(
    "SWITCHBOARD_STRIPE_WEBHOOK_SECRETS", LOCAL_DEFAULTS["SWITCHBOARD_STRIPE_WEBHOOK_SECRETS"]
).split(",")
CIRCLE = "/api/admin/v2"
CONTACTS = "/crm/v3/objects/contacts"
GROUP = "Members"
TAG = "customer"
PURCHASES = ("checkout.session.completed", "invoice.paid")
REFUNDS = ("charge.refunded",)


class Providers:
    """One HTTP client per provider, and the two ids a Zap would have configured."""

    def __init__(self) -> None:
        timeout = httpx.Timeout(30.0)
        self.circle = httpx.AsyncClient(
            base_url=f"{SANDBOX}/circle",
            headers={"Authorization": f"Bearer {LOCAL_DEFAULTS['SWITCHBOARD_CIRCLE_TOKEN']}"},
            timeout=timeout,
        )
        self.kit = httpx.AsyncClient(
            base_url=f"{SANDBOX}/kit",
            headers={"X-Kit-Api-Key": LOCAL_DEFAULTS["SWITCHBOARD_KIT_API_KEY"]},
            timeout=timeout,
        )
        self.hubspot = httpx.AsyncClient(
            base_url=f"{SANDBOX}/hubspot",
            headers={"Authorization": f"Bearer {LOCAL_DEFAULTS['SWITCHBOARD_HUBSPOT_TOKEN']}"},
            timeout=timeout,
        )
        self._group_id: int | None = None
        self._tag_id: int | None = None

    async def aclose(self) -> None:
        for client in (self.circle, self.kit, self.hubspot):
            await client.aclose()

    async def group_id(self) -> int:
        if self._group_id is None:
            response = await self.circle.get(f"{CIRCLE}/access_groups", params={"name": GROUP})
            response.raise_for_status()
            records = response.json().get("records", [])
            self._group_id = next(int(r["id"]) for r in records if r.get("name") == GROUP)
        return self._group_id

    async def tag_id(self) -> int:
        if self._tag_id is None:
            response = await self.kit.post("/v4/tags", json={"name": TAG})  # finds or creates
            response.raise_for_status()
            self._tag_id = int(response.json()["tag"]["id"])
        return self._tag_id

    # -- purchase: the three steps, in order ---------------------------------------------------
    async def grant(self, email: str, name: str | None) -> None:
        await self.circle_grant(email, name)
        await self.kit_grant(email, name)
        await self.hubspot_customer(email)

    async def circle_grant(self, email: str, name: str | None) -> None:
        found = await self.circle.get(f"{CIRCLE}/community_members/search", params={"email": email})
        if found.status_code == 404:
            body: dict[str, Any] = {"email": email, "skip_invitation": True}
            if name:
                body["name"] = name
            (await self.circle.post(f"{CIRCLE}/community_members", json=body)).raise_for_status()
        else:
            found.raise_for_status()
        group = await self.group_id()
        added = await self.circle.post(
            f"{CIRCLE}/access_groups/{group}/community_members", json={"email": email}
        )
        added.raise_for_status()

    async def kit_grant(self, email: str, name: str | None) -> None:
        body = {"email_address": email, **({"first_name": name} if name else {})}
        (await self.kit.post("/v4/subscribers", json=body)).raise_for_status()
        tag = await self.tag_id()
        tagged = await self.kit.post(f"/v4/tags/{tag}/subscribers", json={"email_address": email})
        tagged.raise_for_status()

    async def hubspot_customer(self, email: str) -> None:
        found = await self.hubspot.get(f"{CONTACTS}/{email}", params={"idProperty": "email"})
        if found.status_code == 404:
            body = {"properties": {"email": email, "lifecyclestage": "customer"}}
            (await self.hubspot.post(CONTACTS, json=body)).raise_for_status()
            return
        found.raise_for_status()
        update = {"properties": {"lifecyclestage": "customer"}}
        patched = await self.hubspot.patch(
            f"{CONTACTS}/{email}", params={"idProperty": "email"}, json=update
        )
        patched.raise_for_status()

    # -- refund ---------------------------------------------------------------------------------
    async def revoke(self, email: str) -> None:
        group = await self.group_id()
        removed = await self.circle.delete(
            f"{CIRCLE}/access_groups/{group}/community_members", params={"email": email}
        )
        removed.raise_for_status()
        tag = await self.tag_id()
        untagged = await self.kit.delete(
            f"/v4/tags/{tag}/subscribers", params={"email_address": email}
        )
        untagged.raise_for_status()


def purchase_contact(obj: dict[str, Any]) -> tuple[str | None, str | None]:
    details = obj.get("customer_details") or {}
    email = details.get("email") or obj.get("customer_email")
    return email, details.get("name") or obj.get("customer_name")


def refund_email(obj: dict[str, Any]) -> str | None:
    return (obj.get("billing_details") or {}).get("email") or obj.get("receipt_email")


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    app.state.providers = Providers()
    yield
    await app.state.providers.aclose()


app = FastAPI(title="naive chain (bench only)", lifespan=lifespan)


@app.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@app.post("/webhooks/stripe")
async def stripe_webhook(request: Request) -> JSONResponse:
    payload = await request.body()
    try:
        verify_signature(
            payload, request.headers.get("Stripe-Signature"), SECRETS, now=int(time.time())
        )
    except SignatureError as exc:
        return JSONResponse({"error": exc.code, "message": exc.message}, status_code=401)
    try:
        event = json.loads(payload)
        kind, obj = str(event["type"]), dict(event["data"]["object"])
    except (ValueError, KeyError, TypeError):
        return JSONResponse({"error": "invalid_event"}, status_code=400)
    providers: Providers = request.app.state.providers
    try:
        if kind in PURCHASES:
            email, name = purchase_contact(obj)
            if email:
                await providers.grant(email, name)
        elif kind in REFUNDS:
            email = refund_email(obj)
            if email:
                await providers.revoke(email)
    except httpx.HTTPError as exc:  # a provider said no, or did not answer: Stripe will retry
        return JSONResponse({"error": "provider_failed", "message": str(exc)}, status_code=500)
    return JSONResponse({"received": True})


def main() -> None:
    port = int(os.environ.get("NAIVE_PORT", "26090"))
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
