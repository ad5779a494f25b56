"""The Stripe account reads `switchboard doctor` makes (`GET /v1/account`, `GET
/v1/webhook_endpoints`) and the write it probes a key with (`POST /v1/customers/{id}` on a
customer that does not exist: 403 for a key without write permission, 404 for one with it, so
the probe changes nothing either way)."""

from __future__ import annotations

from typing import Any

from sandbox.doctor import DoctorConfig, endpoint_objects
from sandbox.settings import SandboxSettings

ACCOUNT_ID = "acct_1SandboxSwitchbd"


def livemode(key: str) -> bool:
    return "_live_" in key


def account() -> dict[str, Any]:
    name = "Switchboard sandbox"
    return {
        "id": ACCOUNT_ID,
        "object": "account",
        "business_profile": {"name": name, "url": None},
        "business_type": "company",
        "charges_enabled": True,
        "country": "US",
        "default_currency": "usd",
        "details_submitted": True,
        "email": "owner@switchboard.local",
        "payouts_enabled": True,
        "settings": {"dashboard": {"display_name": name, "timezone": "Etc/UTC"}},
        "type": "standard",
    }


def webhook_endpoints(config: DoctorConfig, settings: SandboxSettings, key: str) -> dict[str, Any]:
    data = endpoint_objects(config, settings.sandbox_ingest_url, livemode(key))
    return {"object": "list", "data": data, "has_more": False, "url": "/v1/webhook_endpoints"}


def may_write(config: DoctorConfig, key: str) -> bool:
    """A standard key can do anything; a restricted one only what it was given."""
    return key.startswith("sk_") or config.stripe_key_writes


def permission_error(masked_key: str) -> dict[str, Any]:
    message = (
        f"The provided key '{masked_key}' does not have the required permissions for this "
        f"endpoint on account '{ACCOUNT_ID}'. Having the 'rak_customer_write' permission would "
        "allow this request to continue."
    )
    return {"error": {"type": "invalid_request_error", "message": message}}
