"""The app's status by a status token from its backend, read from the real FerretDB."""

from __future__ import annotations

import json
import time
import uuid

import httpx
import pytest
from prometheus_client import CollectorRegistry

from libs.runtime.http import make_http_app
from services.ingest.settings import IngestSettings
from services.ingest.status_token import issue_status_token, status_token_router

from .conftest import IngestOnStack
from .test_accept import checkout_event

pytestmark = pytest.mark.integration

SECRET = "integration-status-token-secret-0123456789"


async def test_a_status_token_finds_its_buyer_in_the_store(service: IngestOnStack) -> None:
    email = f"Token.{uuid.uuid4().hex[:8]}@Example.com"
    await service.accept(json.dumps(checkout_event(email, f"cus_{uuid.uuid4().hex[:14]}")).encode())
    await service.drain()

    settings = IngestSettings.load(env="local", status_token_secrets=SECRET)
    app = make_http_app(title="ingest", registry=CollectorRegistry(), readiness={})
    app.include_router(status_token_router(settings, service.customers))
    transport = httpx.ASGITransport(app=app)
    exp = int(time.time()) + 120
    async with httpx.AsyncClient(transport=transport, base_url="http://ingest") as http:
        for sub, code in ((email.lower(), 200), ("nobody.here@example.com", 404)):
            answer = await http.get(
                "/v1/customers/me/status",
                headers={"Authorization": f"Bearer {issue_status_token(SECRET, sub, exp)}"},
            )
            assert answer.status_code == code, answer.text
        assert answer.json()["error"] == "not_found"
        mine = await http.get(
            "/v1/customers/me/status",
            headers={"Authorization": f"Bearer {issue_status_token(SECRET, email, exp)}"},
        )
        assert mine.json()["lifecycle"] == "paid"
