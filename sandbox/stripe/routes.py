"""Stripe API reads stand-in, mounted under `/stripe` (paths as on https://api.stripe.com).

Reads (and one harmless write probe, see `account.py`): ingest retrieves a customer, charge or
subscription when an event lacks the email or the customer. The objects are the ones the
sandbox's test events created (see `sandbox/trigger.py`); `switchboard doctor` reads the account
and its webhook endpoints.
"""

from __future__ import annotations

import base64
import binascii
import secrets
from collections.abc import Awaitable, Callable

from fastapi import APIRouter, Request
from fastapi.responses import Response

from sandbox.guard import ProviderSpec, bearer_token, guard, sandbox_of
from sandbox.http import reply
from sandbox.settings import SandboxSettings
from sandbox.stripe import account
from sandbox.stripe.events import API_VERSION

KEY_PREFIXES = ("sk_test_", "sk_live_", "rk_test_", "rk_live_", "pk_test_", "pk_live_")


def _presented_key(request: Request) -> str | None:
    token = bearer_token(request, "Bearer")
    if token is not None:
        return token
    # Stripe also takes the key as the Basic-auth user name (curl -u sk_test_...:).
    scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "basic":
        try:
            return base64.b64decode(encoded.strip()).decode().partition(":")[0] or None
        except (binascii.Error, UnicodeDecodeError):
            return None
    return None


def _authenticate(request: Request, settings: SandboxSettings) -> str | None:
    # The account's standard key, or one of its restricted keys (`stripe/account.py`).
    key = _presented_key(request)
    known = key == settings.stripe_api_key or key in settings.stripe_restricted_keys
    return key if key is not None and known else None


def mask_key(key: str) -> str:
    """Stripe echoes a wrong key with all but its type prefix and last four characters hidden."""
    prefix = next((p for p in KEY_PREFIXES if key.startswith(p)), "")
    hidden = max(0, len(key) - len(prefix) - 4)
    return prefix + "*" * hidden + key[len(prefix) + hidden :]


def _error_body(kind: str, message: str, **extra: str) -> dict[str, dict[str, str]]:
    return {"error": {"type": kind, "message": message, **extra}}


def _headers() -> dict[str, str]:
    return {"Request-Id": f"req_{secrets.token_hex(7)}", "Stripe-Version": API_VERSION}


def _unauthorized(request: Request) -> Response:
    key = _presented_key(request)
    if key:
        message = f"Invalid API Key provided: {mask_key(key)}"
    else:
        message = (
            "You did not provide an API key. You need to provide your API key in the "
            "Authorization header, using Bearer auth (e.g. 'Authorization: Bearer "
            "YOUR_SECRET_KEY'). See https://stripe.com/docs/api#authentication for details, or "
            "we can help at https://support.stripe.com/."
        )
    return reply(_error_body("invalid_request_error", message), 401, _headers())


def _too_many(retry_after: int | None) -> Response:
    message = (
        "Request rate limit exceeded. Learn more about rate limits here "
        "https://stripe.com/docs/rate-limits."
    )
    headers = _headers()
    if retry_after is not None:
        headers["Retry-After"] = str(retry_after)
    body = _error_body("invalid_request_error", message, code="rate_limit")
    return reply(body, 429, headers)


def _error(status: int) -> Response:
    message = "An unknown error occurred while processing your request."
    return reply(_error_body("api_error", message), status, _headers())


SPEC = ProviderSpec("stripe", _authenticate, _unauthorized, _too_many, _error)
router = APIRouter(prefix=SPEC.prefix, dependencies=[guard(SPEC)])


def _read(request: Request, kind: str, object_id: str) -> Response:
    store = sandbox_of(request).stripe
    obj = store.get(kind, object_id)
    if obj is None:
        body = _error_body(
            "invalid_request_error",
            f"No such {kind.replace('.', ' ').replace('_', ' ')}: '{object_id}'",
            code="resource_missing",
            doc_url="https://stripe.com/docs/error-codes/resource-missing",
            param="id",
        )
        return reply(body, 404, _headers())
    # `expand[]=customer` and the like: swap a top-level id for the object it names.
    for field in request.query_params.getlist("expand[]") + request.query_params.getlist("expand"):
        value = obj.get(field)
        if isinstance(value, str) and value in store.objects:
            obj[field] = store.objects[value]
    return reply(obj, 200, _headers())


def _reader(kind: str) -> Callable[[Request, str], Awaitable[Response]]:
    async def read(request: Request, id: str) -> Response:
        return _read(request, kind, id)

    return read


# `GET /v1/<objects>/{id}` for each object the sandbox's events name.
for _path, _kind in (
    ("/v1/customers/{id}", "customer"),
    ("/v1/charges/{id}", "charge"),
    ("/v1/subscriptions/{id}", "subscription"),
    ("/v1/invoices/{id}", "invoice"),
    ("/v1/disputes/{id}", "dispute"),
    ("/v1/checkout/sessions/{id}", "checkout.session"),
):
    _name = f"get_{_kind.replace('.', '_')}"
    router.add_api_route(_path, _reader(_kind), methods=["GET"], name=_name)


@router.get("/v1/account")
async def get_account(request: Request) -> Response:
    return reply(account.account(), 200, _headers())


@router.get("/v1/webhook_endpoints")
async def list_webhook_endpoints(request: Request) -> Response:
    sandbox = sandbox_of(request)
    key = _presented_key(request) or ""
    return reply(account.webhook_endpoints(sandbox.doctor, sandbox.settings, key), 200, _headers())


@router.post("/v1/customers/{id}")
async def update_customer(request: Request, id: str) -> Response:
    # Only what `switchboard doctor` probes a key with: no customer is ever changed here.
    key = _presented_key(request) or ""
    if not account.may_write(sandbox_of(request).doctor, key):
        return reply(account.permission_error(mask_key(key)), 403, _headers())
    return _read(request, "customer", id)
