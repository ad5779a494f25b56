"""HubSpot CRM v3 stand-in, mounted under `/hubspot` (paths as on https://api.hubapi.com)."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from sandbox.guard import ProviderSpec, bearer_token, guard, sandbox_of
from sandbox.http import json_body, reply
from sandbox.hubspot import search
from sandbox.hubspot.store import BUILT_IN, LIFECYCLE_STAGES, Conflict, HubSpotStore
from sandbox.records import iso
from sandbox.settings import SandboxSettings

CONTACTS = "/crm/v3/objects/contacts"
SEARCH = f"{CONTACTS}/search"
TOKEN_INFO = "/oauth/v2/private-apps/get/access-token-info"
PORTAL_ID = 1234567
MAX_BATCH = 100


def _authenticate(request: Request, settings: SandboxSettings) -> str | None:
    token = bearer_token(request, "Bearer")
    return token if token == settings.hubspot_token else None


def _body(category: str, message: str, **extra: Any) -> dict[str, Any]:
    return {
        "status": "error",
        "message": message,
        "correlationId": str(uuid.uuid4()),
        "category": category,
        **extra,
    }


def _unauthorized(_: Request) -> Response:
    message = (
        "Authentication credentials not found. This API supports OAuth 2.0 authentication and "
        "you can find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview"
    )
    return reply(_body("INVALID_AUTHENTICATION", message), 401)


def _too_many(retry_after: int | None) -> Response:
    body = _body(
        "RATE_LIMITS",
        "You have reached your ten_secondly_rolling limit.",
        errorType="RATE_LIMIT",
        policyName="TEN_SECONDLY_ROLLING",
        groupName="api-calls-ten-secondly",
    )
    headers = {"X-HubSpot-RateLimit-Interval-Milliseconds": "10000"}
    if retry_after is not None:
        headers["Retry-After"] = str(retry_after)
    return reply(body, 429, headers)


def _error(status: int) -> Response:
    return reply(_body("INTERNAL_ERROR", "internal error"), status)


# The CRM search and the token's info are POSTs that only read: counted under `reads`.
SPEC = ProviderSpec(
    "hubspot",
    _authenticate,
    _unauthorized,
    _too_many,
    _error,
    read_only=frozenset({f"POST {SEARCH}", f"POST {TOKEN_INFO}"}),
)
router = APIRouter(prefix=SPEC.prefix, dependencies=[guard(SPEC)])


def _store(request: Request) -> HubSpotStore:
    return sandbox_of(request).hubspot


def _invalid(message: str) -> Response:
    return reply(_body("VALIDATION_ERROR", message), 400)


def _invalid_properties(errors: list[dict[str, str]]) -> Response:
    details = [
        {
            "isValid": False,
            "message": e["message"],
            "error": e["error"],
            "name": e["name"],
            "localizedErrorMessage": e["message"],
            "portalId": PORTAL_ID,
        }
        for e in errors
    ]
    return _invalid(f"Property values were not valid: {json.dumps(details)}")


def _conflict(exc: Conflict) -> Response:
    return reply(_body("CONFLICT", f"Contact already exists. Existing ID: {exc.existing_id}"), 409)


def _not_found() -> Response:
    return reply(_body("OBJECT_NOT_FOUND", "resource not found"), 404)


def _properties(body: dict[str, Any] | None) -> dict[str, Any] | None:
    properties = (body or {}).get("properties")
    return properties if isinstance(properties, dict) else None


@router.post(f"{CONTACTS}/batch/upsert")
async def batch_upsert(request: Request) -> Response:
    started = iso(time.time())
    inputs = (await json_body(request) or {}).get("inputs")
    if not isinstance(inputs, list) or not inputs:
        return _invalid("Invalid input JSON: inputs must be a non-empty list")
    if len(inputs) > MAX_BATCH:
        return _invalid(f"Batch input limit of {MAX_BATCH} exceeded")
    store = _store(request)
    results: list[dict[str, Any]] = []
    errors: list[dict[str, Any]] = []
    for item in inputs:
        item = item if isinstance(item, dict) else {}
        properties = _properties(item) or {}
        email = str(item.get("id") or "")
        if item.get("idProperty") != "email" or "@" not in email:
            message = "Upsert needs idProperty email and an email address as id"
            errors.append(_item_error("VALIDATION_ERROR", message, email))
            continue
        if problems := store.property_errors(properties):
            errors.append(_item_error("VALIDATION_ERROR", problems[0]["message"], email))
            continue
        try:
            contact, new = store.upsert(email, properties)
        except Conflict as exc:
            errors.append(_item_error("CONFLICT", f"Existing ID: {exc.existing_id}", email))
            continue
        results.append({**HubSpotStore.contact_json(contact, properties), "new": new})
    if not results:
        return reply(_body("VALIDATION_ERROR", errors[0]["message"], errors=errors), 400)
    body: dict[str, Any] = {
        "status": "COMPLETE",
        "results": results,
        "startedAt": started,
        "completedAt": iso(time.time()),
    }
    if errors:
        # Some inputs failed: HubSpot answers 207 Multi-Status with the failures listed.
        return reply({**body, "numErrors": len(errors), "errors": errors}, 207)
    return reply(body)


def _item_error(category: str, message: str, email: str) -> dict[str, Any]:
    return {
        "status": "error",
        "category": category,
        "message": message,
        "context": {"ids": [email]},
    }


@router.post(
    SEARCH,
    summary="Search contacts (CRM search API)",
    openapi_extra={
        "requestBody": {"content": {"application/json": {"schema": search.REQUEST_SCHEMA}}}
    },
)
async def search_contacts(request: Request) -> Response:
    """Filter groups (ORed) of filters (ANDed), one sort, `limit` <= 200, `after` an offset
    that may not reach past 10,000 results: see `sandbox/hubspot/search.py`."""
    sandbox = sandbox_of(request)
    # Its own limit, 5 a second, after the account's general one (the guard's): a refused
    # search is still a read, as the guard counted it, and also `rejected`.
    if sandbox.hubspot_search_limiter.hit(bearer_token(request, "Bearer") or "") is not None:
        sandbox.logs[SPEC.name].rejected[f"POST {SEARCH}"] += 1
        refused = _body("RATE_LIMITS", "You have reached your secondly limit.")
        return reply({**refused, "errorType": "RATE_LIMIT", "policyName": "SECONDLY"}, 429)
    body = await json_body(request)
    if body is None and (await request.body()).strip():
        return _invalid("Invalid input JSON: the body must be a JSON object")
    try:
        query = search.parse(body or {})
        # The lagging index, not the fresh contacts: a write shows up here seconds later.
        return reply(search.run(query, _store(request).searchable()))
    except search.Invalid as exc:
        return _invalid(str(exc))


@router.post(CONTACTS)
async def create_contact(request: Request) -> Response:
    properties = _properties(await json_body(request))
    if properties is None:
        return _invalid("Invalid input JSON: properties is required")
    store = _store(request)
    if problems := store.property_errors(properties):
        return _invalid_properties(problems)
    try:
        contact = store.create(properties)
    except Conflict as exc:
        return _conflict(exc)
    return reply(HubSpotStore.contact_json(contact, properties), 201)


def _requested(request: Request) -> list[str]:
    names: list[str] = []
    for value in request.query_params.getlist("properties"):
        names.extend(part.strip() for part in value.split(",") if part.strip())
    return names


@router.get(f"{CONTACTS}/{{id}}")
async def get_contact(request: Request, id: str) -> Response:
    contact = _store(request).get(id, request.query_params.get("idProperty"))
    if contact is None:
        return _not_found()
    return reply(HubSpotStore.contact_json(contact, _requested(request)))


@router.patch(f"{CONTACTS}/{{id}}")
async def update_contact(request: Request, id: str) -> Response:
    properties = _properties(await json_body(request))
    if properties is None:
        return _invalid("Invalid input JSON: properties is required")
    store = _store(request)
    contact = store.get(id, request.query_params.get("idProperty"))
    if contact is None:
        return _not_found()
    if problems := store.property_errors(properties):
        return _invalid_properties(problems)
    try:
        store.update(contact, properties)
    except Conflict as exc:
        return _conflict(exc)
    return reply(HubSpotStore.contact_json(contact, properties))


@router.post("/crm/v3/properties/contacts")
async def create_property(request: Request) -> Response:
    body = await json_body(request) or {}
    missing = [k for k in ("name", "label", "type", "fieldType") if not body.get(k)]
    if missing:
        return _invalid(f"Missing required fields: {', '.join(missing)}")
    if not _store(request).define_property(body):
        message = f"A property named '{body['name']}' already exists."
        return reply(_body("OBJECT_ALREADY_EXISTS", message), 409)
    return reply(_property_json(body), 201)


@router.get("/crm/v3/properties/contacts/{name}")
async def get_property(request: Request, name: str) -> Response:
    definition = _store(request).custom_properties.get(name)
    if definition is None and name == "lifecyclestage":
        options = [{"label": v, "value": v, "hidden": False} for v in LIFECYCLE_STAGES]
        definition = {"name": name, "label": "Lifecycle Stage", "type": "enumeration"}
        definition |= {"fieldType": "radio", "options": options}
    elif definition is None and name in BUILT_IN:
        definition = {"name": name, "label": name, "type": "string", "fieldType": "text"}
    if definition is None:
        return _not_found()
    return reply(_property_json(definition))


def _property_json(definition: dict[str, Any]) -> dict[str, Any]:
    return {
        "groupName": "contactinformation",
        "options": [],
        "hidden": False,
        "formField": False,
        **definition,
        "calculated": False,
        "hubspotDefined": definition["name"] in BUILT_IN,
    }


@router.post(TOKEN_INFO)
async def access_token_info(request: Request) -> Response:
    # A private app token's own details and scopes (what `switchboard doctor` checks).
    sandbox = sandbox_of(request)
    token = str((await json_body(request) or {}).get("tokenKey") or "")
    if token != sandbox.settings.hubspot_token:
        return _unauthorized(request)
    scopes = list(sandbox.doctor.hubspot_scopes)
    return reply({"userId": 7_000_001, "hubId": PORTAL_ID, "appId": 3_000_001, "scopes": scopes})
