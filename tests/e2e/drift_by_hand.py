"""Drift made the way a person or another tool makes it: through the providers' own APIs (the
sandbox's Circle, Kit and HubSpot), with the local credentials, never through Switchboard."""

from __future__ import annotations

from typing import Any

import httpx

from libs.runtime.local_defaults import LOCAL_DEFAULTS

CIRCLE = "/circle/api/admin/v2"


class ByHand:
    def __init__(self, sandbox: str) -> None:
        self.circle = httpx.Client(
            base_url=sandbox,
            headers={"Authorization": f"Bearer {LOCAL_DEFAULTS['SWITCHBOARD_CIRCLE_TOKEN']}"},
            timeout=10,
        )
        self.kit = httpx.Client(
            base_url=sandbox + "/kit",
            headers={"X-Kit-Api-Key": LOCAL_DEFAULTS["SWITCHBOARD_KIT_API_KEY"]},
            timeout=10,
        )
        self.hubspot = httpx.Client(
            base_url=sandbox + "/hubspot",
            headers={"Authorization": f"Bearer {LOCAL_DEFAULTS['SWITCHBOARD_HUBSPOT_TOKEN']}"},
            timeout=10,
        )

    def close(self) -> None:
        for client in (self.circle, self.kit, self.hubspot):
            client.close()

    # --- Circle -------------------------------------------------------------------------------
    def _group(self, name: str) -> int:
        found = ok(self.circle.get(f"{CIRCLE}/access_groups", params={"name": name}))
        return int(next(r["id"] for r in found["records"] if r["name"] == name))

    def circle_revoke(self, group: str, email: str) -> None:
        url = f"{CIRCLE}/access_groups/{self._group(group)}/community_members"
        ok(self.circle.delete(url, params={"email": email}))

    def circle_grant(self, group: str, email: str) -> None:
        ok(
            self.circle.post(
                f"{CIRCLE}/community_members", json={"email": email, "skip_invitation": True}
            )
        )
        url = f"{CIRCLE}/access_groups/{self._group(group)}/community_members"
        ok(self.circle.post(url, json={"email": email}))

    # --- Kit ----------------------------------------------------------------------------------
    def _tag(self, name: str) -> int:
        tags = ok(self.kit.get("/v4/tags", params={"per_page": 1000}))["tags"]
        return int(next(t["id"] for t in tags if t["name"] == name))

    def kit_untag(self, tag: str, email: str) -> None:
        url = f"/v4/tags/{self._tag(tag)}/subscribers"
        ok(self.kit.delete(url, params={"email_address": email}))

    def kit_tag(self, tag: str, email: str) -> None:
        ok(self.kit.post(f"/v4/tags/{self._tag(tag)}/subscribers", json={"email_address": email}))

    # --- HubSpot ------------------------------------------------------------------------------
    def hubspot_stage(self, email: str, stage: str) -> None:
        """Move the stage (backwards too: HubSpot wants it cleared first)."""
        url = f"/crm/v3/objects/contacts/{email}"
        for value in ("", stage):
            body = {"properties": {"lifecyclestage": value}}
            ok(self.hubspot.patch(url, params={"idProperty": "email"}, json=body))


def ok(response: httpx.Response) -> Any:
    assert response.status_code < 300, (
        f"{response.request.url}: {response.status_code} {response.text}"
    )
    return response.json() if response.content else None
