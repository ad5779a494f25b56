"""The app's status on the real stack: a purchase through the sandbox carries its Checkout Session
id (as Stripe's success URL does), and ingest answers that buyer's status by it with no token;
another, made-up or malformed id learns nothing, and the email lookup still wants its token. And
the other way for the app: a short-lived status token signed by its backend."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from services.ingest.settings import LOCAL_STATUS_TOKEN_SECRET
from services.ingest.status_token import issue_status_token
from tests.conftest import unique_email

from .conftest import System

pytestmark = pytest.mark.e2e

APP_TOKEN = {"Authorization": "Bearer local-app-token"}


def by_session(system: System, session: str) -> httpx.Response:
    return httpx.get(f"{system.ingest}/v1/checkout-sessions/{session}/status", timeout=10)


def by_email(system: System, email: str, headers: dict[str, str] | None) -> httpx.Response:
    return httpx.get(
        f"{system.ingest}/v1/customers/status",
        params={"email": email},
        headers=headers,
        timeout=10,
    )


def poll(system: System, session: str, done: Any, timeout: float, what: str) -> Any:
    """The session's status once `done(body)` holds. At most two requests a second, which the
    throttle's refill keeps up with; a 429 (the suite shares one address) waits its
    `Retry-After`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        answer = by_session(system, session)
        if answer.status_code == 429:
            time.sleep(float(answer.headers["Retry-After"]))
            continue
        if answer.status_code == 200 and done(answer.json()):
            return answer.json()
        time.sleep(0.5)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def session_of(sent: dict[str, Any]) -> str:
    session = str(sent["event"]["data"]["object"]["id"])
    assert session.startswith("cs_"), session
    return session


def test_the_buyer_s_checkout_session_answers_their_status_without_a_token(
    system: System,
) -> None:
    email = unique_email("checkout")
    sent = system.trigger("purchase", email=email)
    assert sent["ingest"]["status_code"] == 200
    session = session_of(sent)

    first = poll(system, session, lambda body: True, 10, "ingest to know the session")
    assert first["lifecycle"] in ("paid", "active")
    assert set(first["integrations"]) == {"circle", "convertkit", "crm"}
    assert first["next_step"].startswith(("Payment received", "You're all set"))

    done = poll(
        system,
        session,
        lambda body: (
            body["lifecycle"] == "active"
            and all(step["status"] == "synced" for step in body["integrations"].values())
        ),
        90,
        "every integration synced and the buyer active",
    )
    assert done["needs_support"] is False
    assert done["next_step"].startswith("You're all set")
    # the same answer as the server-to-server lookup by email, which wants its token
    emailed = by_email(system, email, APP_TOKEN)
    assert emailed.status_code == 200
    assert emailed.json()["lifecycle"] == "active"
    assert set(emailed.json()) == set(done)
    assert by_email(system, email, None).status_code == 401


def test_another_made_up_or_malformed_session_learns_nothing(system: System) -> None:
    # another buyer's session that no checkout recorded, and one of Stripe's shape made up
    other = system.trigger("purchase", email=unique_email("other"), deliver=False)
    for session in (session_of(other), "cs_test_a1b2c3d4e5f6g7h8i9j0"):
        answer = by_session(system, session)
        assert answer.status_code == 404, answer.text
        assert answer.json()["error"] == "not_found"
        assert "lifecycle" not in answer.json()
    malformed = by_session(system, "cus_123")
    assert malformed.status_code == 422, malformed.text
    assert malformed.json()["error"] == "invalid_checkout_session_id"


def by_token(system: System, token: str | None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else None
    return httpx.get(f"{system.ingest}/v1/customers/me/status", headers=headers, timeout=10)


def test_a_status_token_from_the_app_s_backend_answers_its_user_only(system: System) -> None:
    email = unique_email("token")
    sent = system.trigger("purchase", email=email)
    poll(system, session_of(sent), lambda body: True, 10, "ingest to know the buyer")
    secret = system.env.get("SWITCHBOARD_STATUS_TOKEN_SECRETS", LOCAL_STATUS_TOKEN_SECRET)
    secret = secret.split(",")[0]
    soon = int(time.time()) + 120

    mine = by_token(system, issue_status_token(secret, email, soon))
    assert mine.status_code == 200, mine.text
    assert mine.json()["lifecycle"] in ("paid", "active")
    assert set(mine.json()["integrations"]) == {"circle", "convertkit", "crm"}

    refused = {
        "no token": None,
        "the app token": "local-app-token",
        "another secret": issue_status_token("x" * 40, email, soon),
        "expired": issue_status_token(secret, email, int(time.time()) - 1),
        "long-lived": issue_status_token(secret, email, int(time.time()) + 86_400),
    }
    for what, token in refused.items():
        answer = by_token(system, token)
        assert answer.status_code == 401, (what, answer.text)
        assert answer.json()["error"] == "unauthorized"
