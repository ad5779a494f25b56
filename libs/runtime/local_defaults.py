"""Values `make run` and the tests use when the environment sets nothing.

They point every provider at the sandbox. A service started outside local mode refuses any of
these secrets (see `settings.py`), so they can never reach production by accident.
"""

from __future__ import annotations

from typing import Final

SANDBOX_URL: Final = "http://127.0.0.1:8070"

LOCAL_DEFAULTS: Final[dict[str, str]] = {
    "SWITCHBOARD_KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:9092",
    # FerretDB on SQLite has one writer per database file: a small pool queues writes in the
    # driver instead of thrashing on SQLITE_BUSY.
    "SWITCHBOARD_MONGODB_URI": "mongodb://127.0.0.1:27017/?directConnection=true&maxPoolSize=1",
    "SWITCHBOARD_STRIPE_WEBHOOK_SECRETS": "whsec_local_dev_only",
    "SWITCHBOARD_APP_TOKENS": "local-app-token",
    "SWITCHBOARD_ADMIN_TOKENS": "local-admin-token",
    "SWITCHBOARD_CIRCLE_BASE_URL": f"{SANDBOX_URL}/circle",
    "SWITCHBOARD_CIRCLE_TOKEN": "local-circle-token",
    "SWITCHBOARD_KIT_BASE_URL": f"{SANDBOX_URL}/kit",
    "SWITCHBOARD_KIT_API_KEY": "local-kit-key",
    "SWITCHBOARD_HUBSPOT_BASE_URL": f"{SANDBOX_URL}/hubspot",
    "SWITCHBOARD_HUBSPOT_TOKEN": "local-hubspot-token",
    "SWITCHBOARD_ZENDESK_BASE_URL": f"{SANDBOX_URL}/zendesk",
    "SWITCHBOARD_ZENDESK_EMAIL": "bot@switchboard.local",
    "SWITCHBOARD_ZENDESK_TOKEN": "local-zendesk-token",
    "SWITCHBOARD_STRIPE_API_BASE_URL": f"{SANDBOX_URL}/stripe",
    "SWITCHBOARD_STRIPE_API_KEY": "sk_test_local_dev_only",
}

#: Secrets whose local value must never be accepted outside local mode.
SECRET_SETTINGS: Final = (
    "SWITCHBOARD_STRIPE_WEBHOOK_SECRETS",
    "SWITCHBOARD_APP_TOKENS",
    "SWITCHBOARD_ADMIN_TOKENS",
    "SWITCHBOARD_CIRCLE_TOKEN",
    "SWITCHBOARD_KIT_API_KEY",
    "SWITCHBOARD_HUBSPOT_TOKEN",
    "SWITCHBOARD_ZENDESK_TOKEN",
    "SWITCHBOARD_STRIPE_API_KEY",
)
