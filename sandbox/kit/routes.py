"""Kit API v4 stand-in, mounted under `/kit` (paths as on https://api.kit.com)."""

from __future__ import annotations

import base64
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse, Response

from sandbox.guard import ProviderSpec, bearer_token, guard, missing_as, sandbox_of
from sandbox.http import ReplyNow, as_int, json_body, reply
from sandbox.kit.store import STATES, KitStore, Subscriber, Taken, valid_email
from sandbox.settings import SandboxSettings


def _authenticate(request: Request, settings: SandboxSettings) -> str | None:
    # An API key in X-Kit-Api-Key, or an OAuth token as Bearer; both are one credential here.
    key = request.headers.get("x-kit-api-key") or bearer_token(request, "Bearer")
    return key if key == settings.kit_api_key else None


def _unauthorized(_: Request) -> Response:
    return reply({"errors": ["The access token is invalid"]}, 401)


def _too_many(retry_after: int | None) -> Response:
    # Plain text, not JSON, and no Retry-After: JSON error parsers trip on exactly this.
    headers = {"Retry-After": str(retry_after)} if retry_after is not None else None
    return PlainTextResponse("Retry later\n", status_code=429, headers=headers)


def _error(status: int) -> Response:
    return reply({"errors": ["Something went wrong. Please try again."]}, status)


SPEC = ProviderSpec("kit", _authenticate, _unauthorized, _too_many, _error)
router = APIRouter(prefix=SPEC.prefix, dependencies=[guard(SPEC)])


def _store(request: Request) -> KitStore:
    return sandbox_of(request).kit


def _not_found(_what: str = "") -> Response:
    # Kit names no record in its 404s.
    return reply({"errors": ["Not Found"]}, 404)


def _invalid(message: str) -> Response:
    return reply({"errors": [message]}, 422)


def _cursor_page(request: Request, key: str, records: list[dict[str, Any]]) -> dict[str, Any]:
    """Kit's cursor pagination; the cursor is the base64 of the last id on the page."""
    per_page = min(1000, max(1, as_int(request.query_params.get("per_page")) or 500))
    after = request.query_params.get("after")
    if after:
        last = _decode_cursor(after)
        records = [r for r in records if last is not None and r["id"] > last]
    page = records[:per_page]

    def cursor(record: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(str(record["id"]).encode()).decode().rstrip("=")

    return {
        key: page,
        "pagination": {
            "has_previous_page": bool(after),
            "has_next_page": len(records) > per_page,
            "start_cursor": cursor(page[0]) if page else None,
            "end_cursor": cursor(page[-1]) if page else None,
            "per_page": per_page,
        },
    }


def _decode_cursor(cursor: str) -> int | None:
    try:
        return as_int(base64.urlsafe_b64decode(cursor.encode() + b"==").decode())
    except ValueError:  # binascii.Error and UnicodeDecodeError are both ValueErrors
        return None


async def _email_param(request: Request) -> str:
    """`email_address` from the body or the query; the current spec puts it in the query, older
    examples sent a body: take either."""
    body = await json_body(request) or {}
    email = body.get("email_address") or request.query_params.get("email_address") or ""
    if not str(email).strip():
        raise ReplyNow(_invalid("Email address is invalid"))
    return str(email).strip()


@router.post("/v4/subscribers")
async def upsert_subscriber(request: Request) -> Response:
    body = await json_body(request) or {}
    email = str(body.get("email_address") or "").strip()
    if not valid_email(email):
        return _invalid("Email address is invalid")
    state = str(body.get("state") or "active")
    if state not in STATES:
        return _invalid("State is not a valid state")
    fields = body.get("fields") if isinstance(body.get("fields"), dict) else {}
    subscriber, created = _store(request).upsert(email, body.get("first_name"), state, fields or {})
    return reply({"subscriber": KitStore.subscriber_json(subscriber)}, 201 if created else 200)


@router.get("/v4/subscribers")
async def list_subscribers(request: Request) -> Response:
    # `status` defaults to active, so cancelled or bounced people stay hidden without `all`.
    # A list, by email too: read from Kit's lagging replica (`KitStore.listed`).
    query = request.query_params
    found = _store(request).listed(query.get("status", "active"), query.get("email_address"))
    return reply(_cursor_page(request, "subscribers", [KitStore.subscriber_json(s) for s in found]))


@router.get("/v4/subscribers/{id}")
async def get_subscriber(request: Request, id: str) -> Response:
    with missing_as(_not_found):
        subscriber = _store(request).get(as_int(id))
    return reply({"subscriber": KitStore.subscriber_json(subscriber)})


@router.put("/v4/subscribers/{id}")
async def update_subscriber(request: Request, id: str) -> Response:
    # Kit's update takes `first_name`, `email_address` and `fields`; the state cannot change here.
    body = await json_body(request) or {}
    email = body.get("email_address")
    if email is not None and not valid_email(str(email).strip()):
        return _invalid("Email address is invalid")
    fields = body.get("fields") if isinstance(body.get("fields"), dict) else None
    first_name = body.get("first_name")
    try:
        with missing_as(_not_found):
            subscriber = _store(request).update(
                as_int(id),
                email=None if email is None else str(email).strip(),
                first_name=None if first_name is None else str(first_name),
                fields=fields,
            )
    except Taken:
        return _invalid("Email address has already been taken")
    return reply({"subscriber": KitStore.subscriber_json(subscriber)})


@router.get("/v4/subscribers/{subscriber_id}/tags")
async def subscriber_tags(request: Request, subscriber_id: str) -> Response:
    # A lookup by subscriber id, so (unlike the lists) it reflects writes at once.
    store = _store(request)
    with missing_as(_not_found):
        subscriber = store.get(as_int(subscriber_id))
    tags = [
        {**KitStore.tag_json(t), "tagged_at": t.tagged[subscriber.id]}
        for t in store.tags.values()
        if subscriber.id in t.tagged
    ]
    return reply(_cursor_page(request, "tags", tags))


@router.post("/v4/subscribers/{id}/unsubscribe")
async def unsubscribe(request: Request, id: str) -> Response:
    with missing_as(_not_found):
        _store(request).unsubscribe(as_int(id))
    return Response(status_code=204)


@router.get("/v4/tags")
async def list_tags(request: Request) -> Response:
    tags = [KitStore.tag_json(t) for t in _store(request).tags.values()]
    return reply(_cursor_page(request, "tags", tags))


@router.post("/v4/tags")
async def create_tag(request: Request) -> Response:
    body = await json_body(request) or {}
    name = str(body.get("name") or "").strip()
    if not name:
        return _invalid("Name can't be blank")
    tag, created = _store(request).create_tag(name)
    return reply({"tag": KitStore.tag_json(tag)}, 201 if created else 200)


@router.get("/v4/tags/{tag_id}/subscribers")
async def tag_subscribers(request: Request, tag_id: str) -> Response:
    store = _store(request)
    with missing_as(_not_found):
        tag = store.tag(as_int(tag_id))
    # A list: read from Kit's lagging replica (`KitStore.tag_members`), tagged_at included.
    status = request.query_params.get("status", "active")
    records = [
        KitStore.subscriber_json(s, tagged_at=tagged_at)
        for s, tagged_at in store.tag_members(tag, status)
    ]
    return reply(_cursor_page(request, "subscribers", records))


def _tagged(subscriber: Subscriber, tagged_at: str, created: bool) -> Response:
    body = {"subscriber": KitStore.subscriber_json(subscriber, tagged_at=tagged_at)}
    return reply(body, 201 if created else 200)


@router.post("/v4/tags/{tag_id}/subscribers")
async def tag_by_email(request: Request, tag_id: str) -> Response:
    email = await _email_param(request)
    # v4 never creates the subscriber here, unlike v3's tag subscribe: an unknown one is a 404.
    with missing_as(_not_found):
        return _tagged(*_store(request).apply_tag(as_int(tag_id), email=email))


@router.post("/v4/tags/{tag_id}/subscribers/{id}")
async def tag_by_id(request: Request, tag_id: str, id: str) -> Response:
    with missing_as(_not_found):
        return _tagged(*_store(request).apply_tag(as_int(tag_id), subscriber_id=as_int(id)))


@router.delete("/v4/tags/{tag_id}/subscribers")
async def untag_by_email(request: Request, tag_id: str) -> Response:
    email = await _email_param(request)
    with missing_as(_not_found):
        _store(request).remove_tag(as_int(tag_id), email=email)
    return Response(status_code=204)


@router.delete("/v4/tags/{tag_id}/subscribers/{id}")
async def untag_by_id(request: Request, tag_id: str, id: str) -> Response:
    with missing_as(_not_found):
        _store(request).remove_tag(as_int(tag_id), subscriber_id=as_int(id))
    return Response(status_code=204)


@router.get("/v4/account")
async def get_account(request: Request) -> Response:
    # The key's own account: the cheap authenticated read `switchboard doctor` makes.
    owner = "owner@switchboard.local"
    return reply(
        {
            "user": {"email": owner},
            "account": {
                "id": 5_000_001,
                "name": "Switchboard sandbox",
                "plan_type": "creator",
                "primary_email_address": owner,
                "created_at": "2024-01-01T00:00:00Z",
            },
        }
    )
