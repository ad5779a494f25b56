"""Send signed Stripe test events to ingest, the way `stripe trigger` does.

`POST /_sandbox/stripe/trigger` builds the scenario's event (see `scenarios.py`), records its
objects for the Stripe API reads, signs the exact bytes with the first secret of
`SWITCHBOARD_STRIPE_WEBHOOK_SECRETS`, posts them to `SWITCHBOARD_SANDBOX_INGEST_URL`, and answers
with the ids and what ingest said. The command line calls that endpoint:

    python -m sandbox.trigger purchase --email jane@example.com [--customer cus_...]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from typing import Any, get_args

import httpx
from fastapi import APIRouter, Request
from fastapi.responses import Response

from sandbox.control import error, parsed
from sandbox.guard import sandbox_of
from sandbox.http import reply
from sandbox.scenario_setup import Scenario, TriggerRequest
from sandbox.scenarios import Outcome, Scenarios
from sandbox.settings import SandboxSettings
from sandbox.stripe.webhook import encode, sign

router = APIRouter(prefix="/_sandbox/stripe")
STRIPE_USER_AGENT = "Stripe/1.0 (+https://stripe.com/docs/webhooks)"


def summary(req: TriggerRequest, outcome: Outcome) -> dict[str, Any]:
    def id_of(obj: dict[str, Any] | None) -> str | None:
        return obj["id"] if obj else None

    return {
        "scenario": req.scenario,
        "event_id": outcome.event["id"],
        "event_type": outcome.event["type"],
        "created": outcome.event["created"],
        "customer_id": outcome.customer["id"],
        "email": outcome.customer["email"],
        "subscription_id": id_of(outcome.subscription),
        "charge_id": id_of(outcome.charge),
        "invoice_id": id_of(outcome.invoice),
    }


@router.post("/trigger")
async def trigger(request: Request) -> Response:
    req = await parsed(request, TriggerRequest, "invalid_trigger")
    sandbox = sandbox_of(request)
    settings = sandbox.settings
    if req.deliver and not settings.webhook_secrets:
        return error("no_webhook_secret", "SWITCHBOARD_STRIPE_WEBHOOK_SECRETS is empty")
    outcome = Scenarios(sandbox.stripe, now=int(time.time())).run(req)
    body = {**summary(req, outcome), "event": outcome.event}
    if not req.deliver:
        sandbox.stripe.record_sent(outcome.event, None)
        return reply({**body, "ingest": None})
    payload = encode(outcome.event)
    headers = {
        "Stripe-Signature": sign(payload, settings.webhook_secrets[0], int(time.time())),
        "Content-Type": "application/json; charset=utf-8",
        "User-Agent": STRIPE_USER_AGENT,
    }
    transport: httpx.AsyncBaseTransport | None = request.app.state.ingest_transport
    url = settings.sandbox_ingest_url
    try:
        async with httpx.AsyncClient(
            transport=transport, timeout=settings.sandbox_ingest_timeout_s
        ) as client:
            answer = await client.post(url, content=payload, headers=headers)
    except httpx.HTTPError as exc:
        sandbox.stripe.record_sent(outcome.event, None)
        message = f"could not deliver to {url}: {type(exc).__name__}: {exc}"
        return reply({**body, "error": "ingest_unreachable", "message": message}, 502)
    sandbox.stripe.record_sent(outcome.event, answer.status_code)
    ingest = {"url": url, "status_code": answer.status_code, "body": _body_of(answer)}
    return reply({**body, "ingest": ingest})


def _body_of(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return response.text


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m sandbox.trigger", description="Send a signed Stripe test event to ingest."
    )
    parser.add_argument("scenario", choices=get_args(Scenario))
    parser.add_argument("--email")
    parser.add_argument("--customer", help="continue with this customer (cus_...)")
    parser.add_argument("--price")
    parser.add_argument("--product")
    parser.add_argument("--status", help="update: the new subscription status")
    parser.add_argument("--new-email", help="email_change: the new address")
    parser.add_argument("--created", type=int, help="the event's created time (unix seconds)")
    parser.add_argument("--legacy", action="store_true", help="renewal: pre-2025-03-31 invoice")
    parser.add_argument("--no-deliver", action="store_true", help="record only, do not send")
    parser.add_argument("--sandbox-url", default=SandboxSettings().sandbox_url)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    fields = {
        "scenario": args.scenario,
        "email": args.email,
        "customer": args.customer,
        "price": args.price,
        "product": args.product,
        "status": args.status,
        "new_email": args.new_email,
        "created": args.created,
        "legacy": args.legacy or None,
        "deliver": False if args.no_deliver else None,
    }
    body = {k: v for k, v in fields.items() if v is not None}
    url = f"{args.sandbox_url.rstrip('/')}/_sandbox/stripe/trigger"
    try:
        response = httpx.post(url, json=body, timeout=30.0)
    except httpx.HTTPError as exc:
        print(f"{args.scenario}: sandbox unreachable at {url}: {exc}", file=sys.stderr)
        return 2
    result = _body_of(response)
    if not isinstance(result, dict) or "event_id" not in result:
        print(
            f"{args.scenario}: sandbox answered {response.status_code}: {result}", file=sys.stderr
        )
        return 2
    print(one_line(result))
    ingest = result.get("ingest")
    if "error" in result:
        return 1
    return 0 if ingest is None or 200 <= ingest["status_code"] < 300 else 1


def one_line(result: dict[str, Any]) -> str:
    head = (
        f"{result['scenario']}: {result['event_id']} ({result['event_type']}) "
        f"customer={result['customer_id']} email={result['email']}"
    )
    ingest = result.get("ingest")
    if "error" in result:
        return f"{head} -> {result['message']}"
    if ingest is None:
        return f"{head} -> not delivered"
    return f"{head} -> ingest {ingest['status_code']} {json.dumps(ingest['body'])}"


if __name__ == "__main__":
    raise SystemExit(main())
