"""Grade a soak from the outside: the sandbox's providers (`GET /_sandbox/state`) and ingest's
status API, against the harness's own expectations (scenario.py). Pure: snapshots in, numbers out.

Per customer and step (circle / convertkit / crm, and ingest's lifecycle):
- converged: every provider holds what the expected lifecycle means, and the status API says
  that lifecycle with no integration pending;
- lost: an accepted event's effect never shows: ingest does not know the customer, or its
  lifecycle disagrees with the expected one about access (a refund that left a customer `lead`);
- visibly failed: a step mismatches, and the status API says `failed` or a Zendesk ticket names
  the customer and the integration;
- silently stuck: a step mismatches or is `pending`, and nothing says it failed.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

from bench.soak.scenario import Expected

INTEGRATIONS = ("circle", "convertkit", "crm")
ACCESS = frozenset({"paid", "active", "past_due"})
_TICKET_EMAIL = re.compile(r"Customer email: (\S+)")


@dataclass
class Providers:
    """The sandbox's records, by lower-cased email."""

    members: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: defaultdict(list))
    subscribers: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: defaultdict(list))
    contacts: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: defaultdict(list))
    #: (email, integration) -> tickets about it
    tickets: dict[tuple[str, str], int] = field(default_factory=Counter)
    tickets_per_external_id: Counter[str] = field(default_factory=Counter)
    requests: dict[str, dict[str, int]] = field(default_factory=dict)
    faulted: dict[str, dict[str, int]] = field(default_factory=dict)


def index(state: dict[str, Any]) -> Providers:
    p = Providers()
    for m in state["circle"]["members"]:
        p.members[m["email"].lower()].append(m)
    for s in state["kit"]["subscribers"]:
        p.subscribers[s["email_address"].lower()].append(s)
    for c in state["hubspot"]["contacts"]:
        p.contacts[str(c["properties"].get("email", "")).lower()].append(c)
    for t in state["zendesk"]["tickets"]:
        p.tickets_per_external_id[str(t.get("external_id"))] += 1
        found = _TICKET_EMAIL.search(t.get("description") or "")
        email = (found.group(1) if found else t.get("requester_email") or "").lower()
        for tag in t.get("tags", []):
            if tag.startswith("integration_"):
                p.tickets[(email, tag.removeprefix("integration_"))] += 1
    p.requests = {name: dict(state[name].get("requests", {})) for name in INTEGRATIONS_SANDBOX}
    p.faulted = {
        name: {**state[name].get("faulted", {}), **_prefixed("delayed ", state[name])}
        for name in INTEGRATIONS_SANDBOX
    }
    return p


INTEGRATIONS_SANDBOX = ("circle", "kit", "hubspot", "zendesk")


def _prefixed(prefix: str, provider: dict[str, Any]) -> dict[str, int]:
    return {prefix + key: n for key, n in provider.get("delayed", {}).items()}


def mismatches(email: str, want: Expected, p: Providers) -> dict[str, str]:
    """Per integration, what the provider holds that it should not (empty: it matches)."""
    found: dict[str, str] = {}
    members = p.members.get(email, [])
    granted = any("Members" in m["access_groups"] for m in members)
    if granted != want.access:
        found["circle"] = "no Members access" if want.access else "still in Members"
    subscribers = p.subscribers.get(email, [])
    tags = {t for s in subscribers for t in s["tags"]}
    if not subscribers:
        found["convertkit"] = "no subscriber"
    else:
        if want.access:
            good = "customer" in tags and "churned" not in tags
        else:
            good = not want.churned or ("churned" in tags and "customer" not in tags)
        if not good:
            found["convertkit"] = f"tags {sorted(tags)}"
    contacts = p.contacts.get(email, [])
    lifecycles = {c["properties"].get("switchboard_lifecycle") for c in contacts}
    if lifecycles != {want.lifecycle}:
        found["crm"] = crm_reason(lifecycles)
    return found


def crm_reason(lifecycles: set[Any]) -> str:
    return f"switchboard_lifecycle {sorted(map(str, lifecycles)) or 'no contact'}"


def progress(expected: dict[str, Expected], state: dict[str, Any]) -> tuple[int, int]:
    """(customers whose providers all match, customers that match or have a Zendesk ticket):
    the second is "settled", converged or visibly failed, as far as the sandbox alone tells."""
    p = index(state)
    ticketed = {email for email, _ in p.tickets}
    converged = settled = 0
    for email, want in expected.items():
        ok = not mismatches(email, want, p)
        converged += ok
        settled += ok or email in ticketed
    return converged, settled


@dataclass(frozen=True)
class Status:
    """One answer of `GET /v1/customers/status`; code None means no answer."""

    code: int | None
    lifecycle: str | None = None
    integrations: dict[str, str] = field(default_factory=dict)
    needs_support: bool = False
    #: why a pending step is pending (`queued`, `retrying`), as the status API says
    reasons: dict[str, str | None] = field(default_factory=dict)


def lost(want: Expected, status: Status) -> bool:
    if status.code == 404:
        return True
    if status.code != 200 or status.lifecycle is None:
        return False  # unknown: graded on the providers only
    if want.lifecycle == "active":
        return status.lifecycle not in ("active", "paid")
    return status.lifecycle != want.lifecycle


def grade(
    expected: dict[str, Expected],
    stories: dict[str, str],
    state: dict[str, Any],
    statuses: dict[str, Status],
    *,
    moving: bool = False,
    examples: int = 5,
) -> dict[str, Any]:
    p = index(state)
    converged = 0
    lost_by: Counter[str] = Counter()
    lost_events: Counter[str] = Counter()
    stuck: Counter[str] = Counter()
    failed: Counter[str] = Counter()
    stuck_customers = failed_customers = status_unknown = unseen = pending_customers = 0
    pending: Counter[str] = Counter()
    failed_but_ok = 0
    samples: dict[str, list[dict[str, Any]]] = {"lost": [], "silently_stuck": []}
    for email, want in expected.items():
        status = statuses.get(email, Status(None))
        wrong = mismatches(email, want, p)
        if status.code != 200:
            status_unknown += status.code != 404
        if lost(want, status):
            lost_by[stories[email]] += 1
            lost_events[want.decided_kind] += 1
            if len(samples["lost"]) < examples:
                samples["lost"].append(_sample(email, stories[email], want, status, wrong))
            continue
        steps = dict(wrong)
        for name in INTEGRATIONS:
            said = status.integrations.get(name)
            if said == "pending" and name not in steps:
                steps[name] = "status pending"
            if said == "failed" and name not in steps:
                failed_but_ok += 1
        if status.code == 200 and status.lifecycle == "paid" and want.lifecycle == "active":
            steps["confirm"] = "still paid: never confirmed active"
            # HubSpot holding `paid` mirrors ingest: the confirm step is what is missing
            if steps.get("crm") == crm_reason({"paid"}):
                del steps["crm"]
        if not steps:
            converged += 1
            continue
        any_stuck = any_pending = False
        for name in steps:
            visible = status.integrations.get(name) == "failed" or p.tickets.get((email, name))
            if name == "confirm":
                visible = "failed" in status.integrations.values() or status.needs_support
            if visible:
                failed[name] += 1
            elif moving and status.integrations.get(name) == "pending" and status.reasons.get(name):
                # not converged yet, and the status API says why (still in the backlog, or
                # retrying): slow, not silent
                pending[f"{name}:{status.reasons[name]}"] += 1
                any_pending = True
            else:
                stuck[name] += 1
                any_stuck = True
        pending_customers += any_pending and not any_stuck
        stuck_customers += any_stuck
        # ingest moved the customer, yet no provider shows any trace and nothing failed: the
        # event most likely never left ingest (outbox, relay, publish)
        unseen += any_stuck and all(wrong.get(i) for i in INTEGRATIONS)
        failed_customers += not any_stuck and not any_pending
        if any_stuck and len(samples["silently_stuck"]) < examples:
            samples["silently_stuck"].append(_sample(email, stories[email], want, status, steps))
    seen = Counter(str(statuses.get(e, Status(None)).lifecycle) for e in expected)
    return {
        "status_api_lifecycles": dict(seen),
        "expected_lifecycles": dict(Counter(w.lifecycle for w in expected.values())),
        "customers": len(expected),
        "converged": converged,
        "lost": {
            "customers": sum(lost_by.values()),
            "by_story": dict(lost_by),
            "events_by_kind": dict(lost_events),
            "examples": samples["lost"],
        },
        "visibly_failed": {"customers": failed_customers, "steps_by_integration": dict(failed)},
        "still_pending": {"customers": pending_customers, "steps_by_reason": dict(pending)},
        "silently_stuck": {
            "customers": stuck_customers,
            "steps": sum(stuck.values()),
            "steps_by_integration": dict(stuck),
            "customers_no_provider_saw": unseen,
            "examples": samples["silently_stuck"],
        },
        "status_failed_but_provider_matches": failed_but_ok,
        "status_unanswered": status_unknown,
        "duplicates": duplicates(expected, p),
        "requests": requests_vs_needed(expected, p),
    }


def _sample(
    email: str, story: str, want: Expected, status: Status, wrong: dict[str, str]
) -> dict[str, Any]:
    return {
        "email": email,
        "story": story,
        "expected": want.lifecycle,
        "decided_by": want.decided_by,
        "status_api": {
            "code": status.code,
            "lifecycle": status.lifecycle,
            "integrations": status.integrations,
        },
        "mismatch": wrong,
    }


def duplicates(expected: dict[str, Expected], p: Providers) -> dict[str, int]:
    """Emails with more than one record in a provider; tickets sharing an external_id."""
    return {
        "circle_members": sum(1 for e in expected if len(p.members.get(e, [])) > 1),
        "kit_subscribers": sum(1 for e in expected if len(p.subscribers.get(e, [])) > 1),
        "hubspot_contacts": sum(1 for e in expected if len(p.contacts.get(e, [])) > 1),
        "zendesk_tickets_same_external_id": sum(
            n - 1 for n in p.tickets_per_external_id.values() if n > 1
        ),
    }


def _count(requests: dict[str, int], method: str, *parts: str) -> int:
    return sum(
        n
        for key, n in requests.items()
        if key.startswith(method + " ") and all(part in key for part in parts)
    )


def requests_vs_needed(expected: dict[str, Expected], p: Providers) -> dict[str, Any]:
    """Grant requests the sandbox received against the customers that needed one. Each
    customer bought once: every one holding access at the end needed exactly one grant, and one
    whose refund or cancel Switchboard saw first may rightly have had none; so the grants lie
    between those two counts, and more than one per customer means repeated calls (harmless if
    idempotent, but spent against the provider's quota)."""
    circle, kit = p.requests.get("circle", {}), p.requests.get("kit", {})
    kept = sum(1 for w in expected.values() if w.access)
    canceled = sum(1 for w in expected.values() if w.churned)
    circle_grants = _count(circle, "POST", "access_groups", "community_members")
    kit_tags = _count(kit, "POST", "/tags/", "/subscribers")
    return {
        "customers": len(expected),
        "customers_with_access_at_end": kept,
        "customers_canceled": canceled,
        "circle_grant_requests": circle_grants,
        "circle_grants_beyond_one_per_customer": max(0, circle_grants - len(expected)),
        "circle_revoke_requests": _count(circle, "DELETE", "access_groups", "community_members"),
        "kit_tag_requests": kit_tags,
        "kit_tags_beyond_one_per_customer_and_cancel": max(0, kit_tags - len(expected) - canceled),
        "by_provider": p.requests,
        "faulted_by_provider": p.faulted,
    }
