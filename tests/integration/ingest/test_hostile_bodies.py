"""Correctly signed bodies that no Stripe client sends: each is a 400 with its own code, never a
500, and nothing is stored. Through the real webhook route and service, on the real FerretDB
(which refuses text that is not valid UTF-8, so a lone surrogate would reach it as a 500)."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import httpx
import pytest
from prometheus_client import CollectorRegistry

from libs.runtime.http import make_http_app
from services.ingest.event_log import RECEIVED
from services.ingest.metrics import IngestMetrics
from services.ingest.routes import webhook_router
from services.ingest.settings import IngestSettings
from services.ingest.signature import compute_signature

from .conftest import IngestOnStack

pytestmark = pytest.mark.integration

SECRET = "whsec_hostile_bodies"


def event(**overrides: Any) -> dict[str, Any]:
    return {
        "id": f"evt_{uuid.uuid4().hex[:20]}",
        "object": "event",
        "type": "customer.updated",
        "created": int(time.time()),
        "data": {"object": {"id": "cus_hostile", "email": "hostile@example.com"}},
        **overrides,
    }


async def post_signed(service: IngestOnStack, raw: bytes) -> httpx.Response:
    settings = IngestSettings.load(env="local", stripe_webhook_secrets=SECRET)
    registry = CollectorRegistry()
    app = make_http_app(title="ingest", registry=registry, readiness={})
    app.include_router(webhook_router(settings, service.service, IngestMetrics(registry)))
    now = int(time.time())
    headers = {
        "Stripe-Signature": f"t={now},v1={compute_signature(raw, SECRET, now)}",
        "Content-Type": "application/json",
    }
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://ingest") as client:
        return await client.post("/webhooks/stripe", content=raw, headers=headers)


def deep(levels: int) -> bytes:
    return b"[" * levels + b"]" * levels


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        (json.dumps(event()).encode("utf-16"), "body_not_utf8"),  # with its BOM
        (json.dumps(event()).encode("utf-16-le"), "body_not_utf8"),
        (json.dumps(event()).encode("utf-32"), "body_not_utf8"),
        (json.dumps(event()).encode("latin-1")[:-1] + b"\xe9}", "body_not_utf8"),
        (b"\xef\xbb\xbf" + json.dumps(event()).encode(), "body_not_utf8"),
        (deep(100_000), "body_too_deep"),
        (b'{"object": "event", "data": ' + deep(100_000) + b"}", "body_too_deep"),
        (b'{"a":' * 50_000 + b"1" + b"}" * 50_000, "body_too_deep"),
        # a lone surrogate in the id: valid JSON, not storable text
        (json.dumps(event(id="evt_\ud800x")).encode(), "not_a_stripe_event"),
        (json.dumps(event(type="invoice.\udfff")).encode(), "not_a_stripe_event"),
        (json.dumps(event(id="evt_" + "x" * 300)).encode(), "not_a_stripe_event"),
    ],
    ids=[
        "utf16",
        "utf16le",
        "utf32",
        "latin1",
        "utf8-bom",
        "deep-array",
        "deep-in-event",
        "deep-object",
        "surrogate-id",
        "surrogate-type",
        "long-id",
    ],
)
async def test_a_signed_hostile_body_is_a_400_with_a_code(
    service: IngestOnStack, raw: bytes, code: str
) -> None:
    response = await post_signed(service, raw)
    assert response.status_code == 400, response.text
    assert response.json()["error"] == code
    assert response.json()["message"]


async def test_a_plain_event_still_goes_through(service: IngestOnStack) -> None:
    body = event()
    response = await post_signed(service, json.dumps(body).encode())
    assert response.status_code == 200, response.text
    assert response.json() == {"received": True, "event_id": body["id"], "duplicate": False}
    # and non-ASCII text in UTF-8 is, of course, fine
    body = event(data={"object": {"id": "cus_ü", "name": "Zoë Ångström 😀"}})
    response = await post_signed(service, json.dumps(body, ensure_ascii=False).encode())
    assert response.status_code == 200, response.text


async def test_a_deep_but_parseable_event_is_applied_like_any_other(
    service: IngestOnStack,
) -> None:
    """Below the parser's limit the depth is only data: the event is stored as text and the
    apply stage reads only the fields it knows, so it is applied (never stuck in the relay)."""
    body = event()
    body["data"]["object"]["metadata"] = json.loads("[" * 500 + "]" * 500)
    response = await post_signed(service, json.dumps(body).encode())
    assert response.status_code == 200, response.text
    await service.drain()
    stored = await service.events.get(body["id"])
    assert stored is not None
    assert stored["status"] != RECEIVED, stored  # applied (and published, or queued to be)
