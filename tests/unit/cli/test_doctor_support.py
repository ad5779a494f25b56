"""What the doctor's unit tests share: the sandbox in-process, settings that point the command
at it, healthy Kafka and store stand-ins, and one run returning the JSON answer."""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from typing import Any

import httpx
from fastapi import FastAPI

from sandbox.app import create_app
from sandbox.settings import SandboxSettings
from services.cli.doctor import run_doctor
from services.cli.doctor_checks import Check, passed
from services.cli.doctor_providers import mapping_names
from services.cli.doctor_settings import DoctorSettings
from services.cli.terminal import Terminal

SANDBOX = "http://sandbox.test"
INGEST = "https://hooks.example.com/webhooks/stripe"
CREDENTIALS = {
    "circle_token": "unit-circle-token",
    "kit_api_key": "unit-kit-key",
    "hubspot_token": "unit-hubspot-token",
    "zendesk_email": "bot@example.com",
    "zendesk_token": "unit-zendesk-token",
    "stripe_webhook_secrets": "whsec_unit_secret",
}
RESTRICTED_KEY = "rk_test_unit_restricted"
STANDARD_KEY = "sk_test_unit_standard"
LIVE_KEY = "rk_live_unit_restricted"


def sandbox_app(**overrides: Any) -> FastAPI:
    values: dict[str, Any] = {
        **CREDENTIALS,
        "stripe_api_key": STANDARD_KEY,
        "sandbox_stripe_restricted_keys": f"{RESTRICTED_KEY},{LIVE_KEY}",
        "sandbox_ingest_url": INGEST,
        "sandbox_circle_access_groups": "Members,Alumni",
        "sandbox_kit_list_lag_s": 0,
        "sandbox_hubspot_search_lag_s": 0,
        **overrides,
    }
    return create_app(SandboxSettings(**values))


def settings(**overrides: Any) -> DoctorSettings:
    values: dict[str, Any] = {
        "env": "staging",
        **CREDENTIALS,
        "stripe_api_key": RESTRICTED_KEY,
        "app_tokens": "unit-app-token",
        "admin_tokens": "unit-admin-token",
        "circle_base_url": f"{SANDBOX}/circle",
        "kit_base_url": f"{SANDBOX}/kit",
        "hubspot_base_url": f"{SANDBOX}/hubspot",
        "zendesk_base_url": f"{SANDBOX}/zendesk",
        "stripe_api_base_url": f"{SANDBOX}/stripe",
        "public_ingest_url": INGEST,
        "doctor_other_env_file": None,
        **overrides,
    }
    return DoctorSettings(**values)


class HealthyInfra:
    async def kafka(self, _: DoctorSettings) -> list[Check]:
        return [passed("kafka", "k"), passed("kafka topics", "t"), passed("consumer lag", "0")]

    async def store(self, _: DoctorSettings) -> list[Check]:
        return [passed("store", "s")]


async def control(app: FastAPI, method: str, path: str, **kwargs: Any) -> httpx.Response:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url=SANDBOX
    ) as client:
        response = await client.request(method, path, **kwargs)
    response.raise_for_status()
    return response


async def provision(app: FastAPI, *, skip: tuple[str, ...] = ()) -> None:
    """Every Circle access group and Kit tag the repository's mapping names, as an operator
    sets them up before the first purchase (but the ones in `skip`)."""
    config = settings()
    groups, tags = mapping_names(config, "circle"), mapping_names(config, "convertkit")
    assert isinstance(groups, list)
    assert isinstance(tags, list)
    existing = {
        g["name"]
        for g in (await control(app, "GET", "/_sandbox/state"))
        .json()["circle"]
        .get("access_groups", [])
    }
    keys = app.state.sandbox.settings
    circle = {"Authorization": f"Bearer {keys.circle_token}"}
    for group in groups:
        if group not in skip and group not in existing:
            await control(
                app,
                "POST",
                "/circle/api/admin/v2/access_groups",
                json={"name": group},
                headers=circle,
            )
    kit = {"X-Kit-Api-Key": keys.kit_api_key}
    for tag in tags:
        if tag not in skip:
            await control(app, "POST", "/kit/v4/tags", json={"name": tag}, headers=kit)


@dataclass
class Outcome:
    code: int
    answer: dict[str, Any]
    table: str

    @property
    def checks(self) -> dict[str, dict[str, Any]]:
        return {c["name"]: c for c in self.answer["checks"]}

    def failed(self) -> set[str]:
        return {name for name, c in self.checks.items() if not c["ok"]}


async def doctor(app: FastAPI, config: DoctorSettings | None = None) -> Outcome:
    out, err = io.StringIO(), io.StringIO()
    code = await run_doctor(
        config or settings(),
        terminal=Terminal(stdout=out, stderr=err),
        as_json=True,
        transport=httpx.ASGITransport(app=app),
        infra=HealthyInfra(),
    )
    return Outcome(code, json.loads(out.getvalue().strip().splitlines()[-1]), err.getvalue())
