"""`GET /v1/customers/me/status` on ingest's fakes: a short-lived HS256 token that the app's
backend signs for its signed-in user answers that user's status; anything else is a 401."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from prometheus_client import CollectorRegistry
from pydantic import ValidationError

from libs.runtime.http import make_http_app
from services.ingest.settings import LOCAL_STATUS_TOKEN_SECRET, IngestSettings
from services.ingest.status_token import (
    InvalidToken,
    issue_status_token,
    verify_status_token,
)
from services.ingest.status_token import (
    status_token_router as router,
)

from .world import World, checkout, running

SECRET, OLD_SECRET = "s" * 40, "o" * 40
AT = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
T = int(AT.timestamp())


def token(email: str, exp: int = T + 300, secret: str = SECRET, **claims: Any) -> str:
    return issue_status_token(secret, email, exp, **claims)


@asynccontextmanager
async def client(world: World, **settings: Any) -> AsyncIterator[httpx.AsyncClient]:
    values: dict[str, Any] = {"status_token_secrets": f"{SECRET},{OLD_SECRET}", **settings}
    config = IngestSettings.load(env="local", **values)
    if not values["status_token_secrets"]:
        config.status_token_secrets = []  # as outside local mode, where none is the default
    app = make_http_app(title="ingest", registry=CollectorRegistry(), readiness={})
    app.include_router(router(config, world.customers, lambda: AT))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://ingest") as http:
        yield http


def bearer(value: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {value}"}


async def test_the_signed_in_buyer_s_token_answers_their_status() -> None:
    async with running() as (world, _), client(world) as http:
        email, event = f"me.{uuid.uuid4().hex[:8]}@example.com", checkout("x@example.com", "cus_t1")
        event["data"]["object"]["customer_details"]["email"] = email
        await world.accept(event)
        for secret in (SECRET, OLD_SECRET):  # either secret while rolling
            answer = await http.get(
                "/v1/customers/me/status", headers=bearer(token(email.upper(), secret=secret))
            )
            assert answer.status_code == 200, answer.text
            assert answer.json()["lifecycle"] == "paid"
            assert answer.headers["cache-control"] == "no-store"
        nobody = await http.get("/v1/customers/me/status", headers=bearer(token("no@example.com")))
        assert nobody.status_code == 404
        assert nobody.json()["error"] == "not_found"


def _forged_none(email: str) -> str:
    def part(value: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'none'})}.{part({'sub': email, 'exp': T + 60})}."


@pytest.mark.parametrize(
    ("make", "problem"),
    [
        (lambda: token("a@example.com", secret="x" * 40), "signature"),
        (lambda: token("a@example.com", exp=T), "expired"),
        (lambda: token("a@example.com", exp=T + 3600), "longer than 900"),
        (lambda: _forged_none("a@example.com"), "HS256"),
        (lambda: token("not-an-email"), "sub"),
        (lambda: issue_status_token(SECRET, "a@example.com", "soon"), "exp"),  # type: ignore[arg-type]
        (lambda: "abc.def", "not a JWT"),
        (lambda: "a.b.c", "not a JWT"),
        (lambda: token("a@example.com")[:-2] + "xx", "signature"),
        (lambda: "x" * 5000, "not a JWT"),
    ],
)
def test_anything_but_a_fresh_token_of_ours_is_refused(make: Any, problem: str) -> None:
    with pytest.raises(InvalidToken, match=problem):
        verify_status_token(make(), [SECRET], AT, 900)


async def test_a_refused_token_is_a_401_and_no_token_is_too() -> None:
    async with running() as (world, _), client(world) as http:
        for headers in ({}, bearer("a.b.c"), bearer(token("a@example.com", exp=T - 1))):
            answer = await http.get("/v1/customers/me/status", headers=headers)
            assert answer.status_code == 401, answer.text
            assert answer.json()["error"] == "unauthorized"


async def test_without_secrets_every_token_is_refused() -> None:
    async with running() as (world, _), client(world, status_token_secrets="") as http:
        answer = await http.get("/v1/customers/me/status", headers=bearer(token("a@example.com")))
        assert answer.status_code == 401
        assert "not enabled" in answer.json()["message"]


async def test_the_route_is_throttled_per_client_ip() -> None:
    async with running() as (world, _), client(world, checkout_status_rate_limit=2) as http:
        codes = [(await http.get("/v1/customers/me/status")).status_code for _ in range(3)]
        assert codes == [401, 401, 429]


def test_a_short_secret_is_refused_outside_local_mode() -> None:
    production: dict[str, Any] = {
        "env": "production",
        "kafka_bootstrap_servers": "kafka:9092",
        "mongodb_uri": "mongodb://db:27017",
        "stripe_webhook_secrets": "whsec_" + "p" * 32,
        "app_tokens": "t" * 43,
        "stripe_api_key": "rk_live_" + "k" * 32,
    }
    assert IngestSettings(**production, status_token_secrets="l" * 32).status_token_secrets
    assert IngestSettings(**production).status_token_secrets == []
    for refused in ("short", LOCAL_STATUS_TOKEN_SECRET):
        with pytest.raises(ValidationError, match="SWITCHBOARD_STATUS_TOKEN_SECRETS"):
            IngestSettings(**production, status_token_secrets=refused)


def test_local_mode_signs_with_the_local_secret_unless_told_otherwise() -> None:
    (secret,) = IngestSettings.load(env="local").status_token_secrets
    assert secret.get_secret_value() == LOCAL_STATUS_TOKEN_SECRET
