"""Each provider's credential, asked with one cheap authenticated read, and what the mapping
file names in it: Circle's community and access groups, Kit's account and tags, HubSpot's
token info and scopes (least privilege), Zendesk's current user."""

from __future__ import annotations

import base64
from typing import Any, Final

from libs.runtime.mapping import IntegrationMapping, MappingError, load_section

from .doctor_checks import Check, failed, passed
from .doctor_http import Http, Unreachable, answer, json_of
from .doctor_settings import DoctorSettings

#: what crm_sync calls (contacts: read, search, batch upsert, update): it creates no property,
#: so it needs no `crm.schemas.*` scope
CRM_SCOPES: Final = frozenset({"crm.objects.contacts.read", "crm.objects.contacts.write"})

Names = IntegrationMapping[list[str]]


async def circle(http: Http, s: DoctorSettings) -> list[Check]:
    name, token = "circle credential", s.circle_token.get_secret_value()
    fix = "create an Admin V2 token (Circle: Developers > Tokens), set SWITCHBOARD_CIRCLE_TOKEN"
    if not token:
        return [failed(name, "SWITCHBOARD_CIRCLE_TOKEN is not set", fix), _skipped("circle")]
    headers = {"Authorization": f"Bearer {token}"}
    base = f"{s.circle_base_url.rstrip('/')}/api/admin/v2"
    try:
        response = await http.send("GET", f"{base}/community", headers=headers)
        if response.status_code != 200:
            return [failed(name, answer(response), fix), _skipped("circle")]
        community = json_of(response)
        found = passed(name, f"community {community.get('name')!r} (id {community.get('id')})")
        groups = mapping_names(s, "circle")
        if isinstance(groups, Check):
            return [found, groups]
        missing = []
        for group in groups:
            listed = await http.send(
                "GET", f"{base}/access_groups", headers=headers, params={"name": group}
            )
            records = json_of(listed).get("records") or []
            if not any(str(r.get("name")) == group for r in records):
                missing.append(group)
    except Unreachable as exc:
        return [failed(name, str(exc), "check SWITCHBOARD_CIRCLE_BASE_URL"), _skipped("circle")]
    return [found, _mapped("circle", "access groups", groups, missing)]


async def kit(http: Http, s: DoctorSettings) -> list[Check]:
    name, key = "kit credential", s.kit_api_key.get_secret_value()
    fix = "create a v4 API key (Kit: Settings > Developer), set SWITCHBOARD_KIT_API_KEY"
    if not key:
        return [failed(name, "SWITCHBOARD_KIT_API_KEY is not set", fix), _skipped("convertkit")]
    headers = {"X-Kit-Api-Key": key}
    base = f"{s.kit_base_url.rstrip('/')}/v4"
    try:
        response = await http.send("GET", f"{base}/account", headers=headers)
        if response.status_code != 200:
            return [failed(name, answer(response), fix), _skipped("convertkit")]
        account = json_of(response).get("account") or {}
        found = passed(name, f"account {account.get('name')!r} (id {account.get('id')})")
        tags = mapping_names(s, "convertkit")
        if isinstance(tags, Check):
            return [found, tags]
        existing = await _kit_tags(http, base, headers)
    except Unreachable as exc:
        return [failed(name, str(exc), "check SWITCHBOARD_KIT_BASE_URL"), _skipped("convertkit")]
    missing = [t for t in tags if t.casefold() not in existing]
    return [found, _mapped("convertkit", "tags", tags, missing)]


async def _kit_tags(http: Http, base: str, headers: dict[str, str]) -> set[str]:
    names: set[str] = set()
    params: dict[str, Any] = {"per_page": 1000}  # Kit's maximum: one page for most accounts
    while True:
        page = json_of(await http.send("GET", f"{base}/tags", headers=headers, params=params))
        names.update(str(t.get("name", "")).casefold() for t in page.get("tags") or [])
        pagination = page.get("pagination") or {}
        if not pagination.get("has_next_page") or not pagination.get("end_cursor"):
            return names
        params = {**params, "after": pagination["end_cursor"]}


async def hubspot(http: Http, s: DoctorSettings) -> list[Check]:
    name, token = "hubspot credential", s.hubspot_token.get_secret_value()
    fix = "create a private app with the CRM contacts scopes, set SWITCHBOARD_HUBSPOT_TOKEN"
    scopes_name = "hubspot scopes"
    if not token:
        return [
            failed(name, "SWITCHBOARD_HUBSPOT_TOKEN is not set", fix),
            failed(scopes_name, "not checked: no token", "fix the credential first"),
        ]
    url = f"{s.hubspot_base_url.rstrip('/')}/oauth/v2/private-apps/get/access-token-info"
    try:
        response = await http.send(
            "POST", url, headers={"Authorization": f"Bearer {token}"}, json={"tokenKey": token}
        )
    except Unreachable as exc:
        response_error = failed(name, str(exc), "check SWITCHBOARD_HUBSPOT_BASE_URL")
        return [response_error, failed(scopes_name, "not checked", "fix the credential first")]
    if response.status_code != 200:
        return [
            failed(name, answer(response), fix),
            failed(scopes_name, "not checked: the token was refused", "fix the credential first"),
        ]
    info = json_of(response)
    scopes = {str(scope) for scope in info.get("scopes") or []}
    found = passed(name, f"portal {info.get('hubId')}, app {info.get('appId')}")
    extra, missing = sorted(scopes - CRM_SCOPES), sorted(CRM_SCOPES - scopes)
    if extra or missing:
        detail = "; ".join(
            part
            for part in (
                f"more than the CRM sync needs: {', '.join(extra)}" if extra else "",
                f"missing: {', '.join(missing)}" if missing else "",
            )
            if part
        )
        wanted = " and ".join(sorted(CRM_SCOPES))
        return [found, failed(scopes_name, detail, f"give the private app only {wanted}")]
    return [found, passed(scopes_name, "only " + ", ".join(sorted(scopes)))]


async def zendesk(http: Http, s: DoctorSettings) -> list[Check]:
    name, token = "zendesk credential", s.zendesk_token.get_secret_value()
    fix = "create an API token (Zendesk Admin Center > Apps and integrations > APIs)"
    if not (token and s.zendesk_email and s.zendesk_base_url):
        unset = [
            var
            for var, value in (
                ("SWITCHBOARD_ZENDESK_BASE_URL", s.zendesk_base_url),
                ("SWITCHBOARD_ZENDESK_EMAIL", s.zendesk_email),
                ("SWITCHBOARD_ZENDESK_TOKEN", token),
            )
            if not value
        ]
        return [failed(name, ", ".join(unset) + " not set", "set " + ", ".join(unset))]
    basic = base64.b64encode(f"{s.zendesk_email}/token:{token}".encode()).decode()
    url = f"{s.zendesk_base_url.rstrip('/')}/api/v2/users/me.json"
    try:
        response = await http.send("GET", url, headers={"Authorization": f"Basic {basic}"})
    except Unreachable as exc:
        return [failed(name, str(exc), "check SWITCHBOARD_ZENDESK_BASE_URL")]
    user = json_of(response).get("user") or {}
    # Zendesk answers an unauthenticated /users/me with an anonymous user (no id), not a 401.
    if response.status_code != 200 or not user.get("id"):
        return [failed(name, answer(response) if response.status_code != 200 else "anonymous", fix)]
    if str(user.get("email", "")).lower() != s.zendesk_email.lower():
        detail = f"the token acts as {user.get('email')}, not {s.zendesk_email}"
        return [failed(name, detail, "set SWITCHBOARD_ZENDESK_EMAIL to the token's agent")]
    return [passed(name, f"{user.get('email')} ({user.get('role')})")]


def mapping_names(s: DoctorSettings, integration: str) -> list[str] | Check:
    """Every name the mapping file's section names, in order, once."""
    try:
        section: Names = load_section(s.mapping_file, integration, Names)
    except MappingError as exc:
        return failed(f"mapping: {integration}", str(exc), "fix SWITCHBOARD_MAPPING_FILE")
    return list(dict.fromkeys(name for names in section.everything() for name in names))


def _mapped(integration: str, what: str, names: list[str], missing: list[str]) -> Check:
    name = f"mapping: {integration} {what}"
    if missing:
        provider = "Circle" if integration == "circle" else "Kit"
        return failed(
            name,
            f"named in the mapping but not in {provider}: {', '.join(missing)}",
            f"create them in {provider}, or fix the names in the mapping file",
        )
    return passed(name, f"all {len(names)} exist: {', '.join(names)}")


def _skipped(integration: str) -> Check:
    what = "access groups" if integration == "circle" else "tags"
    return failed(
        f"mapping: {integration} {what}", "not checked: the credential failed", "fix it first"
    )
