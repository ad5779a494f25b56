"""Circle Admin API v2 client: the calls the sync needs, with Circle's 404 semantics."""

from __future__ import annotations

from typing import Any

import httpx

from libs.runtime.errors import PermanentProviderError
from libs.runtime.provider_http import ProviderHttp, bearer_client
from libs.runtime.worker_metrics import WorkerMetrics

API = "/api/admin/v2"
PER_PAGE = 100  # Circle's maximum


def missing_record(response: httpx.Response) -> str:
    """Which record a Circle 404 names (`Missing record: user` → `user`)."""
    try:
        details = response.json().get("error_details") or {}
    except ValueError:
        return ""
    message = details.get("message", "") if isinstance(details, dict) else str(details)
    return message.removeprefix("Missing record:").strip().lower()


class CircleClient:
    def __init__(self, client: httpx.AsyncClient, metrics: WorkerMetrics | None = None) -> None:
        self.http = ProviderHttp("circle", client, metrics)
        self._group_ids: dict[str, int] = {}

    #: an httpx client for the API, with the bearer token on every call
    make_http = staticmethod(bearer_client)

    async def find_member(self, email: str) -> dict[str, Any] | None:
        response = await self.http.request(
            "GET", f"{API}/community_members/search", ok=(200, 404), params={"email": email}
        )
        return None if response.status_code == 404 else dict(response.json())

    async def create_member(
        self, email: str, name: str | None, skip_invitation: bool
    ) -> tuple[bool, int]:
        """Create the member; (created, its id). Circle answers a member that exists already
        with a 200 and that member, so the create doubles as the lookup."""
        body: dict[str, Any] = {"email": email, "skip_invitation": skip_invitation}
        if name:
            body["name"] = name
        response = await self.http.request(
            "POST", f"{API}/community_members", ok=(200, 201), json=body
        )
        member = response.json().get("community_member") or {}
        return response.status_code == 201, int(member.get("id") or 0)

    async def member_group_names(self, member_id: int) -> set[str]:
        """The names of every access group the member is in (one page holds up to 100)."""
        names: set[str] = set()
        page = 1
        while True:
            response = await self.http.request(
                "GET",
                API + "/community_members/{id}/access_groups",
                path={"id": member_id},
                params={"page": page, "per_page": PER_PAGE},
            )
            body = response.json()
            names.update(str(r.get("name", "")) for r in body.get("records", []))
            if not body.get("has_next_page"):
                return names
            page += 1

    async def group_id(self, name: str) -> int:
        if name not in self._group_ids:
            response = await self.http.request(
                "GET", f"{API}/access_groups", params={"name": name, "status": "active"}
            )
            for record in response.json().get("records", []):
                if str(record.get("name", "")).lower() == name.lower():
                    self._group_ids[name] = int(record["id"])
                    break
            else:
                raise PermanentProviderError(
                    "circle", f"access group {name!r} does not exist", code="unknown_access_group"
                )
        return self._group_ids[name]

    def knows_group(self, name: str) -> bool:
        """Whether the group's id is known (else `group_id` costs a call)."""
        return name in self._group_ids

    async def group_member_ids(self, group: str, page: int) -> tuple[list[int], bool]:
        """One page (of up to 100, Circle's most) of the group's memberships, as the members'
        ids (the records carry no address), and whether another page follows."""
        response = await self.http.request(
            "GET",
            API + "/access_groups/{id}/community_members",
            path={"id": await self.group_id(group)},
            params={"page": page, "per_page": PER_PAGE},
        )
        body = response.json()
        ids = [int(r["community_member_id"]) for r in body.get("records", [])]
        return ids, bool(body.get("has_next_page"))

    async def member_addresses(self, page: int) -> tuple[dict[int, str], bool]:
        """One page of the community's members (invited ones included), id -> address, and
        whether another page follows."""
        response = await self.http.request(
            "GET",
            f"{API}/community_members",
            params={"status": "all", "page": page, "per_page": PER_PAGE},
        )
        body = response.json()
        found = {int(r["id"]): str(r.get("email") or "") for r in body.get("records", [])}
        return found, bool(body.get("has_next_page"))

    async def in_group(self, group: str, email: str) -> bool:
        response = await self.http.request(
            "GET",
            API + "/access_groups/{id}/community_member",
            path={"id": await self.group_id(group)},
            ok=(200, 404),
            params={"email": email},
        )
        return response.status_code == 200

    async def add_to_group(self, group: str, email: str) -> bool:
        """Grant `group` (already in it is done). False when no member has `email`."""
        response = await self.http.request(
            "POST",
            API + "/access_groups/{id}/community_members",
            path={"id": await self.group_id(group)},
            ok=(200, 201, 404),
            json={"email": email},
        )
        if response.status_code == 404:
            if missing_record(response) != "user":  # the group itself: a real error
                raise PermanentProviderError(
                    "circle",
                    f"missing record: {missing_record(response) or 'unknown'}",
                    status=404,
                    endpoint="POST access_groups/{id}/community_members",
                )
            return False
        return True

    async def remove_from_group(self, group: str, email: str, *, gone_ok: bool = False) -> None:
        """Revoke `group`. Not being in it is done; so is no member at all with `gone_ok`
        (a member removed meanwhile holds nothing)."""
        response = await self.http.request(
            "DELETE",
            API + "/access_groups/{id}/community_members",
            path={"id": await self.group_id(group)},
            ok=(200, 204, 404),
            params={"email": email},
        )
        if response.status_code == 404:
            missing = missing_record(response)
            done = {"access group community member"} | ({"user"} if gone_ok else set())
            if missing not in done:  # anything else is a real error
                raise PermanentProviderError(
                    "circle",
                    f"missing record: {missing or 'unknown'}",
                    status=404,
                    endpoint="DELETE access_groups/{id}/community_members",
                )
