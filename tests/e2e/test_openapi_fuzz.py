"""Schemathesis against ingest's own OpenAPI document (GET /openapi.json), on the real stack.

Every operation ingest publishes is fuzzed with positive (schema-valid) and negative
(schema-violating) requests, once without the app token and once with it (so the status endpoint
gets past the bearer check and reaches the database). Whatever is sent, ingest must never answer
5xx, and what it answers must match the response it documents for that status code.

Two explicit examples per run make sure the interesting paths are reached, not just the 401s: a
webhook with a valid signature over the (empty) body, which gets past the signature check to the
body parser, and, with the token, the status of a customer the sandbox really bought for, so the
200 body is checked against `CustomerStatus`.

On `response_schema_conformance` and our JSON error bodies: FastAPI documents every 422 as
`HTTPValidationError` (`{"detail": [...]}`), while ingest answers `{"error", "message",
"details"}`. That schema requires no property and allows extra ones, so the check passes, but for
422s it proves nothing; the 400/401/413 bodies of the webhook are documented as `ErrorBody` and are
checked for real. The status endpoint's 401/404 document no body at all, so they are not checked.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import strategies as st
from schemathesis import Case, GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from sandbox.stripe.webhook import sign
from tests.conftest import unique_email

from .conftest import System, wait_for

pytestmark = pytest.mark.e2e

SECRET = "whsec_local_dev_only"
APP_TOKEN = "Bearer local-app-token"
STATUS = "GET /v1/customers/status"
WEBHOOK = "POST /webhooks/stripe"
# Per operation and per run: 2 operations x 2 runs x 75 requests takes a few seconds locally.
MAX_EXAMPLES = 75
CHECKS = [not_a_server_error, response_schema_conformance]

FUZZ_SETTINGS = settings(
    max_examples=MAX_EXAMPLES,
    derandomize=True,  # the same requests on every run, so a failure reproduces
    database=None,  # nothing is saved between runs (derandomize would ignore it anyway)
    deadline=None,  # a request to a real service has no stable duration
    phases=[Phase.explicit, Phase.generate, Phase.shrink],
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.filter_too_much,
        HealthCheck.data_too_large,
    ],
    print_blob=True,
)


@pytest.fixture(scope="module")
def known_customer(system: System) -> str:
    """A customer ingest really knows (a sandbox purchase), so the status API can answer 200."""
    email = unique_email("fuzz")
    system.trigger("purchase", email=email)
    wait_for(
        lambda: (
            httpx.get(
                f"{system.ingest}/v1/customers/status",
                params={"email": email},
                headers={"Authorization": APP_TOKEN},
                timeout=10,
            ).status_code
            == 200
        ),
        what="ingest to know the customer seeded for the fuzz run",
    )
    return email


def explicit_cases(operation: Any, authorized: bool, known_email: str) -> list[Case]:
    """Requests that are sent on top of the generated ones, to reach past the first refusal."""
    label = f"{operation.method.upper()} {operation.path}"
    if label == WEBHOOK:
        # Valid for the empty body schemathesis sends (the schema declares no request body):
        # passes the signature check and is refused by the parser (400 not_a_stripe_event).
        signature = sign(b"", SECRET, int(time.time()))
        return [operation.Case(headers={"stripe-signature": signature})]
    if label == STATUS and authorized:
        token = {"authorization": APP_TOKEN}
        return [
            operation.Case(query={"email": known_email}, headers=token),
            operation.Case(query={"email": known_email.upper()}, headers=token),
        ]
    return []


def fuzz(operation: Any, authorized: bool, known_email: str) -> None:
    """Run one operation's Hypothesis test; raise on the first failing check (shrunk)."""
    fixed = {"authorization": APP_TOKEN} if authorized else None
    strategy = st.one_of(
        operation.as_strategy(GenerationMode.POSITIVE, headers=fixed),
        operation.as_strategy(GenerationMode.NEGATIVE, headers=fixed),
    )

    def check(case: Case) -> None:
        case.call_and_validate(checks=CHECKS, timeout=10)

    test: Callable[..., None] = given(case=strategy)(check)
    for case in explicit_cases(operation, authorized, known_email):
        test = example(case=case)(test)
    FUZZ_SETTINGS(test)()


@pytest.mark.parametrize("authorized", [False, True], ids=["anonymous", "app-token"])
def test_ingest_answers_every_fuzzed_request_without_5xx_and_as_documented(
    system: System, known_customer: str, authorized: bool
) -> None:
    schema = schemathesis.openapi.from_url(f"{system.ingest}/openapi.json", timeout=10)
    operations = [result.ok() for result in schema.get_all_operations()]
    labels = sorted(f"{op.method.upper()} {op.path}" for op in operations)
    # A new endpoint is fuzzed automatically; this only guards against an empty document.
    assert {STATUS, WEBHOOK} <= set(labels), labels

    failures: list[Exception] = []
    for operation in operations:
        try:
            fuzz(operation, authorized, known_customer)
        except Exception as exc:  # collect, so every operation is fuzzed and reported
            exc.add_note(f"operation: {operation.method.upper()} {operation.path}")
            failures.append(exc)
    if failures:
        raise ExceptionGroup(f"schemathesis found problems in ingest ({labels})", failures)


# Regression: these two once reached `int(value)` in `parse_header` and ingest answered 500
# ("²" passes str.isdigit(); 4301 digits exceed int()'s limit). Schemathesis sends only ASCII
# header values, so it cannot find them by itself.
@pytest.mark.parametrize(
    "timestamp",
    [b"\xb2", b"1" * 4301],  # "²" passes str.isdigit(); 4301 digits exceed int()'s str limit
    ids=["superscript-two", "4301-digits"],
)
def test_a_malformed_signature_timestamp_is_refused_as_malformed(
    system: System, timestamp: bytes
) -> None:
    response = httpx.post(
        f"{system.ingest}/webhooks/stripe",
        content=b"",
        headers={"Stripe-Signature": b"t=" + timestamp + b",v1=ab"},
        timeout=10,
    )
    assert response.status_code == 401, response.text
    assert response.json()["error"] == "signature_malformed"
