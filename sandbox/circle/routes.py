"""Circle Admin API v2 stand-in, mounted under `/circle` (paths as on https://app.circle.so)."""

from __future__ import annotations

import math
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response

from sandbox.circle.store import CircleStore
from sandbox.guard import ProviderSpec, bearer_token, guard, missing_as, sandbox_of
from sandbox.http import as_bool, as_int, json_body, reply
from sandbox.settings import SandboxSettings

V2 = "/api/admin/v2"
NOT_FOUND_MESSAGE = "Oops! Missing record. Please try again later."


def _authenticate(request: Request, settings: SandboxSettings) -> str | None:
    # The quick-start shows Bearer, the OpenAPI spec says Token; clients in the wild send both.
    token = bearer_token(request, "Bearer", "Token")
    if token != settings.circle_token:
        return None
    # The burst limit is per client IP, not per token.
    return request.client.host if request.client else "unknown"


def _unauthorized(_: Request) -> Response:
    return reply({"success": False, "message": "The API token is invalid."}, 401)


def _too_many(retry_after: int | None) -> Response:
    # Circle documents no body and no Retry-After; Rails' Rack::Attack default is this text.
    headers = {"Retry-After": str(retry_after)} if retry_after is not None else None
    return PlainTextResponse("Retry later\n", status_code=429, headers=headers)


def _error(status: int) -> Response:
    return reply(
        {"success": False, "message": "Something went wrong. Please try again later."}, status
    )


SPEC = ProviderSpec("circle", _authenticate, _unauthorized, _too_many, _error)
router = APIRouter(prefix=SPEC.prefix, dependencies=[guard(SPEC)])


def _store(request: Request) -> CircleStore:
    return sandbox_of(request).circle


def _missing(what: str) -> JSONResponse:
    # The message is always generic; only error_details says which record is missing.
    details = {"message": f"Missing record: {what}"}
    return reply({"success": False, "message": NOT_FOUND_MESSAGE, "error_details": details}, 404)


def _invalid(message: str) -> JSONResponse:
    return reply({"success": False, "message": message, "error_details": message}, 422)


def _page(request: Request, records: list[dict[str, Any]]) -> dict[str, Any]:
    page = max(1, as_int(request.query_params.get("page")) or 1)
    per_page = min(100, max(1, as_int(request.query_params.get("per_page")) or 10))
    start = (page - 1) * per_page
    return {
        "page": page,
        "per_page": per_page,
        "has_next_page": start + per_page < len(records),
        "count": len(records),
        "page_count": max(1, math.ceil(len(records) / per_page)),
        "records": records[start : start + per_page],
    }


@router.get(f"{V2}/community")
async def show_community(request: Request) -> Response:
    # The token's community: the cheap authenticated read `switchboard doctor` makes.
    return reply(
        {
            "id": 1,
            "name": "Switchboard sandbox",
            "slug": "switchboard-sandbox",
            "is_private": True,
            "locale": "en",
        }
    )


@router.get(f"{V2}/community_members/search")
async def search_member(request: Request) -> Response:
    store = _store(request)
    member = store.find_member(request.query_params.get("email", ""))
    if member is None:
        return _missing("user")
    return reply(store.member_json(member))


@router.get(f"{V2}/community_members")
async def list_members(request: Request) -> Response:
    store = _store(request)
    status = request.query_params.get("status", "active")
    members = [
        m for m in store.members.values() if status == "all" or m.active == (status == "active")
    ]
    return reply(_page(request, [store.member_json(m) for m in members]))


@router.post(f"{V2}/community_members")
async def create_member(request: Request) -> Response:
    body = await json_body(request) or {}
    email = str(body.get("email") or "").strip()
    if "@" not in email:
        return _invalid("Invalid email address.")
    store = _store(request)
    existing = store.find_member(email)
    if existing is not None:
        # Undocumented in the spec; client code sees a 2xx saying "already a member".
        return reply(
            {
                "message": "This user is already a member of this community.",
                "community_member": store.member_json(existing),
            }
        )
    member = store.create_member(email, body.get("name"), as_bool(body.get("skip_invitation")))
    message = (
        "This user has been added to the community."
        if member.active
        else "This user has been invited to the community."
    )
    return reply({"message": message, "community_member": store.member_json(member)}, 201)


@router.get(f"{V2}/community_members/{{id}}")
async def show_member(request: Request, id: str) -> Response:
    store = _store(request)
    with missing_as(_missing):
        return reply(store.member_json(store.member(as_int(id))))


@router.get(f"{V2}/community_members/{{id}}/access_groups")
async def member_access_groups(request: Request, id: str) -> Response:
    store = _store(request)
    with missing_as(_missing):
        groups = store.member_groups(store.member(as_int(id)))
    return reply(_page(request, [store.group_json(g) for g in groups]))


@router.delete(f"{V2}/community_members/{{id}}")
async def deactivate_member(request: Request, id: str) -> Response:
    return _remove(request, id, "deactivated", "This member has been removed from the community.")


@router.put(f"{V2}/community_members/{{id}}/delete_member")
async def delete_member(request: Request, id: str) -> Response:
    # Never used by a sync worker; kept so a call to it shows up in the counts and the state.
    return _remove(request, id, "deleted", "This member has been deleted.")


@router.put(f"{V2}/community_members/{{id}}/ban_member")
async def ban_member(request: Request, id: str) -> Response:
    return _remove(request, id, "banned", "This member has been banned.")


def _remove(request: Request, member_id: str, how: str, message: str) -> Response:
    with missing_as(_missing):
        _store(request).remove_member(as_int(member_id), how=how)
    return reply({"success": True, "message": message})


@router.get(f"{V2}/access_groups")
async def list_access_groups(request: Request) -> Response:
    store = _store(request)
    query = request.query_params
    groups = store.find_groups(query.get("name"), query.get("status", "active"))
    return reply(_page(request, [store.group_json(g) for g in groups]))


@router.post(f"{V2}/access_groups")
async def create_access_group(request: Request) -> Response:
    body = await json_body(request) or {}
    name = str(body.get("name") or "").strip()
    if not name:
        return _invalid("Name can't be blank")
    store = _store(request)
    return reply(
        store.group_json(store.create_group(name, str(body.get("description") or ""))), 201
    )


@router.get(f"{V2}/access_groups/{{id}}/community_members")
async def list_group_members(request: Request, id: str) -> Response:
    # Membership records as the spec has them, with `community_member_id` and no email: who
    # they are comes from `GET community_members?status=all` (the `id` there) or `/{id}`.
    with missing_as(_missing):
        return reply(_page(request, _store(request).memberships(as_int(id))))


@router.post(f"{V2}/access_groups/{{id}}/community_members")
async def add_group_member(request: Request, id: str) -> Response:
    body = await json_body(request) or {}
    email = str(body.get("email") or request.query_params.get("email") or "").strip()
    if not email:
        return _invalid("Email can't be blank")
    with missing_as(_missing):
        added = _store(request).add_to_group(as_int(id), email)
    if added:
        return reply({"success": True, "message": "Member added to the access group."}, 201)
    # Undocumented; answered as a harmless repeat.
    return reply({"success": True, "message": "Member is already in the access group."})


@router.delete(f"{V2}/access_groups/{{id}}/community_members")
async def remove_group_member(request: Request, id: str) -> Response:
    email = request.query_params.get("email", "").strip()
    if not email:
        return _invalid("Email can't be blank")
    with missing_as(_missing):
        _store(request).remove_from_group(as_int(id), email)
    return reply({"success": True, "message": "Member removed from the access group."})


@router.get(f"{V2}/access_groups/{{id}}/community_member")
async def show_group_membership(request: Request, id: str) -> Response:
    with missing_as(_missing):
        membership = _store(request).membership(as_int(id), request.query_params.get("email", ""))
    return reply(membership)
