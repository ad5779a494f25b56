"""Zendesk Support tickets stand-in, mounted under `/zendesk` (paths as on {subdomain}.zendesk.com).

Every ticket path also answers with the `.json` suffix, which Zendesk treats as optional.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse, Response

from sandbox.guard import ProviderSpec, guard, sandbox_of
from sandbox.http import as_int, json_body, reply
from sandbox.settings import SandboxSettings
from sandbox.zendesk.store import Invalid, Ticket, ZendeskStore

V2 = "/api/v2"


def _authenticate(request: Request, settings: SandboxSettings) -> str | None:
    scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    expected = f"{settings.zendesk_email}/token:{settings.zendesk_token}"
    # The limit is account-wide, so every request shares one key.
    return "account" if decoded == expected else None


def _unauthorized(_: Request) -> Response:
    return reply({"error": "Couldn't authenticate you"}, 401)


def _too_many(retry_after: int | None) -> Response:
    headers = {"X-Rate-Limit-Remaining": "0"}
    if retry_after is not None:
        headers["Retry-After"] = str(retry_after)
    body = "Number of allowed API requests per minute exceeded"
    return PlainTextResponse(body, status_code=429, headers=headers)


def _error(status: int) -> Response:
    return reply({"error": "InternalError", "description": "Something went wrong"}, status)


SPEC = ProviderSpec(
    "zendesk", _authenticate, _unauthorized, _too_many, _error, sends_retry_after=True
)
router = APIRouter(prefix=SPEC.prefix, dependencies=[guard(SPEC)])


def _store(request: Request) -> ZendeskStore:
    return sandbox_of(request).zendesk


def _not_found() -> Response:
    return reply({"error": "RecordNotFound", "description": "Not found"}, 404)


def _invalid(exc: Invalid) -> Response:
    body = {"error": "RecordInvalid", "description": "Record validation errors"}
    return reply({**body, "details": exc.details}, 422)


def _bad_json() -> Response:
    return reply({"error": "InvalidEndpoint", "description": "Bad request: expected a ticket"}, 400)


def _ticket_data(body: dict[str, Any] | None) -> dict[str, Any] | None:
    data = (body or {}).get("ticket")
    return data if isinstance(data, dict) else None


def _fingerprint(raw: bytes) -> str:
    # Compared as parsed JSON, so key order and whitespace do not make two bodies different.
    try:
        canonical = json.dumps(json.loads(raw), sort_keys=True, separators=(",", ":")).encode()
    except ValueError:
        canonical = raw
    return hashlib.sha256(canonical).hexdigest()


async def create_ticket(request: Request) -> Response:
    fingerprint = _fingerprint(await request.body())
    data = _ticket_data(await json_body(request))
    # No await from here on: the key check and the create happen as one step, so two
    # concurrent requests with the same key still make one ticket.
    store = _store(request)
    key = request.headers.get("idempotency-key")
    if key:
        try:
            remembered = store.recall(key, fingerprint)
        except ValueError:
            description = "Request parameters don't match the given idempotency key"
            return reply({"error": "IdempotentRequestError", "description": description}, 400)
        if remembered is not None:
            headers = {"x-idempotency-lookup": "hit"}
            return reply(remembered.body, remembered.status, headers)
    if data is None:
        return _bad_json()
    try:
        ticket = store.create(data)
    except Invalid as exc:
        return _invalid(exc)
    body = {"ticket": store.ticket_json(ticket), "audit": store.audit_json(ticket)}
    if not key:
        return reply(body, 201)
    store.remember(key, fingerprint, 201, body)
    return reply(body, 201, {"x-idempotency-lookup": "miss"})


async def list_tickets(request: Request) -> Response:
    store = _store(request)
    tickets = list(store.tickets.values())
    if external_id := request.query_params.get("external_id"):
        tickets = [t for t in tickets if t.external_id == external_id]
    body = [store.ticket_json(t) for t in tickets]
    return reply({"tickets": body, "next_page": None, "previous_page": None, "count": len(body)})


def _ticket(request: Request, ticket_id: str) -> Ticket | None:
    number = as_int(ticket_id.removesuffix(".json"))
    return _store(request).tickets.get(number) if number is not None else None


async def show_ticket(request: Request, id: str) -> Response:
    ticket = _ticket(request, id)
    if ticket is None:
        return _not_found()
    return reply({"ticket": _store(request).ticket_json(ticket)})


async def update_ticket(request: Request, id: str) -> Response:
    data = _ticket_data(await json_body(request))
    if data is None:
        return _bad_json()
    ticket = _ticket(request, id)
    if ticket is None:
        return _not_found()
    store = _store(request)
    try:
        store.update(ticket, data)
    except Invalid as exc:
        return _invalid(exc)
    return reply({"ticket": store.ticket_json(ticket), "audit": store.audit_json(ticket)})


async def list_comments(request: Request, id: str) -> Response:
    ticket = _ticket(request, id)
    if ticket is None:
        return _not_found()
    comments = [ZendeskStore.comment_json(c) for c in ticket.comments]
    return reply({"comments": comments, "next_page": None, "previous_page": None})


async def search(request: Request) -> Response:
    store = _store(request)
    found = store.search(request.query_params.get("query", ""))
    results = [{**store.ticket_json(t), "result_type": "ticket"} for t in found]
    body = {"results": results, "facets": None, "next_page": None, "previous_page": None}
    return reply({**body, "count": len(results)})


async def current_user(request: Request) -> Response:
    # The credential's own user (a cheap authenticated read; `switchboard doctor` makes it).
    email = sandbox_of(request).settings.zendesk_email
    user = {"id": 1_000_001, "name": "Switchboard bot", "email": email, "role": "agent"}
    return reply({"user": {**user, "active": True, "verified": True, "suspended": False}})


# Each path with and without `.json`; the template without it is what the counts show.
for _path, _method, _endpoint in (
    ("/users/me", "GET", current_user),
    ("/tickets", "POST", create_ticket),
    ("/tickets", "GET", list_tickets),
    ("/tickets/{id}", "GET", show_ticket),
    ("/tickets/{id}", "PUT", update_ticket),
    ("/tickets/{id}/comments", "GET", list_comments),
    ("/search", "GET", search),
):
    router.add_api_route(f"{V2}{_path}", _endpoint, methods=[_method])
    if not _path.endswith("}"):
        router.add_api_route(f"{V2}{_path}.json", _endpoint, methods=[_method])
