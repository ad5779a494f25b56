"""Stripe: the key (one read of the account), its privilege (restricted and read-only: a write
probe on a customer that does not exist is refused with 403 by a read-only key and answered
404 by one that may write, so it changes nothing either way), and the webhook endpoints
registered for it (this environment's ingest URL, every event type ingest handles, and no
other environment's ingest among them)."""

from __future__ import annotations

from typing import Any, Final

import httpx

from services.ingest.normalize import HANDLED_TYPES

from .doctor_checks import Check, failed, passed
from .doctor_http import Http, Unreachable, answer, json_of
from .doctor_settings import DoctorSettings

#: a customer id no account has: the write probe's target
PROBE_CUSTOMER: Final = "cus_switchboard_doctor_probe"
ENDPOINTS_FIX: Final = "Stripe dashboard > Developers > Webhooks"


async def stripe(http: Http, s: DoctorSettings) -> list[Check]:
    key = s.stripe_api_key.get_secret_value()
    names = (
        "stripe credential",
        "stripe key privilege",
        "stripe webhook endpoint",
        "stripe webhook events",
    )
    if not key:
        fix = "create a restricted key with read access, set SWITCHBOARD_STRIPE_API_KEY"
        return [failed(names[0], "SWITCHBOARD_STRIPE_API_KEY is not set", fix)] + [
            failed(n, "not checked: no key", "fix the credential first") for n in names[1:]
        ]
    base = f"{s.stripe_api_base_url.rstrip('/')}/v1"
    headers = {"Authorization": f"Bearer {key}"}
    try:
        account = await http.send("GET", f"{base}/account", headers=headers)
        if account.status_code != 200:
            fix = "use this environment's restricted key (Stripe: Developers > API keys)"
            return [failed(names[0], answer(account), fix)] + [
                failed(n, "not checked: the key was refused", "fix the credential first")
                for n in names[1:]
            ]
        body = json_of(account)
        shown = (body.get("settings") or {}).get("dashboard", {}).get("display_name")
        checks = [passed(names[0], f"account {body.get('id')} ({shown or 'no name'})")]
        checks.append(await _privilege(http, base, headers, key))
        listed = await http.send(
            "GET", f"{base}/webhook_endpoints", headers=headers, params={"limit": 100}
        )
    except Unreachable as exc:
        return [failed(names[0], str(exc), "check SWITCHBOARD_STRIPE_API_BASE_URL")] + [
            failed(n, "not checked: Stripe unreachable", "fix the credential first")
            for n in names[1:]
        ]
    return checks + endpoint_checks(listed, s.ingest_url)


async def _privilege(http: Http, base: str, headers: dict[str, str], key: str) -> Check:
    name = "stripe key privilege"
    fix = "create a restricted key (rk_) with read access only and use it instead"
    if key.startswith("sk_"):
        return failed(name, "a standard secret key (sk_): it can do anything", fix)
    probe = await http.send("POST", f"{base}/customers/{PROBE_CUSTOMER}", headers=headers)
    if probe.status_code == 403:
        return passed(name, "restricted key, writes refused")
    if probe.status_code in (200, 404):
        return failed(name, "restricted key that may write customers", "make its access read-only")
    return failed(name, f"the write probe got {answer(probe)}", fix)


def endpoint_checks(listed: httpx.Response, ingest_url: str) -> list[Check]:
    name, events_name = "stripe webhook endpoint", "stripe webhook events"
    if listed.status_code != 200:
        fix = "give the key read access to Webhook Endpoints"
        return [
            failed(name, answer(listed), fix),
            failed(events_name, "not checked", "fix the endpoint check first"),
        ]
    if not ingest_url:
        fix = "set SWITCHBOARD_PUBLIC_INGEST_URL to the URL Stripe should call"
        return [
            failed(name, "SWITCHBOARD_PUBLIC_INGEST_URL is not set", fix),
            failed(events_name, "not checked", "fix the endpoint check first"),
        ]
    endpoints: list[dict[str, Any]] = json_of(listed).get("data") or []
    ours = [e for e in endpoints if _same(str(e.get("url")), ingest_url)]
    # Another host on ingest's path is another environment's Switchboard (e.g. staging's
    # endpoint on the production account): it would act on this environment's payments.
    path = httpx.URL(ingest_url).path
    foreign = [
        str(e.get("url"))
        for e in endpoints
        if e not in ours and httpx.URL(str(e.get("url"))).path == path
    ]
    enabled = [e for e in ours if e.get("status") == "enabled"]
    if foreign:
        detail = f"this account delivers to {', '.join(foreign)} (another environment)"
        if not ours:
            detail += f", not to {ingest_url}"
        fix = f"remove the other environment's endpoint ({ENDPOINTS_FIX})"
        if not ours:
            fix = f"point it at {ingest_url}, or remove it and add that ({ENDPOINTS_FIX})"
        check = failed(name, detail, fix)
    elif not ours:
        urls = ", ".join(str(e.get("url")) for e in endpoints) or "none"
        check = failed(
            name,
            f"none points at {ingest_url} (registered: {urls})",
            f"add an endpoint for {ingest_url} ({ENDPOINTS_FIX})",
        )
    elif not enabled:
        check = failed(name, f"{ours[0].get('id')} is disabled", f"enable it ({ENDPOINTS_FIX})")
    else:
        check = passed(name, f"{enabled[0].get('id')} -> {ingest_url}")
    return [check, _events(events_name, enabled)]


def _events(name: str, enabled: list[dict[str, Any]]) -> Check:
    if not enabled:
        return failed(name, "not checked: no enabled endpoint", "fix the endpoint check first")
    endpoint = enabled[0]
    events = set(endpoint.get("enabled_events") or [])
    missing = [] if "*" in events else sorted(HANDLED_TYPES - events)
    if missing:
        return failed(
            name,
            f"{endpoint.get('id')} does not send {', '.join(missing)}",
            f"enable them on {endpoint.get('id')} ({ENDPOINTS_FIX})",
        )
    return passed(name, f"all {len(HANDLED_TYPES)} event types ingest handles")


def _same(url: str, other: str) -> bool:
    a, b = httpx.URL(url), httpx.URL(other)
    return (a.scheme, a.host, a.port, a.path.rstrip("/")) == (
        b.scheme,
        b.host,
        b.port,
        b.path.rstrip("/"),
    )
