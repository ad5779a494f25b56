"""Schemathesis over ingest's and support's OpenAPI documents, on the real stack, at volume.

The suite fuzzes each service with a small budget (tests/e2e/test_openapi_fuzz*.py); this bench
sends `--cases` requests in all (10,000 by default) against its own stack, started as `make run`
starts it (deploy/local/stack.py) on the fuzz bench's ports, beside the Kafka and FerretDB that
`run.sh` started. Before fuzzing it makes real data: two sandbox purchases, one of them with
Circle failing, so support holds a failed step, an incident and a ticket, and explicit examples
reach them (search by every id, the customer page, the failures list, dry-run and real replays),
plus date-times at the ends of the calendar that generation seldom reaches (see EARLIEST).

Every operation is fuzzed with and without its token (ingest's app token, support's admin token),
with positive and negative generation; the budget is split evenly over (operation, token) and what
an operation cannot use (a small input space that Hypothesis exhausts) goes to the others. Per
operation it prints the cases sent, the status codes, the 5xx answers and the schema
(`response_schema_conformance`) failures, with the first few of each in full, and, for
information, answers whose status code the operation does not document. Exit 1 on any 5xx or
transport error (a request that got no answer), 0 otherwise.

    .venv/bin/python bench/fuzz/run.py [--cases 10000] [--seed 0]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, example, given, seed, settings
from hypothesis import strategies as st
from schemathesis import Case, GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import Failure, FailureGroup, ServerError
from schemathesis.core.result import Err
from schemathesis.specs.openapi.checks import response_schema_conformance

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from deploy.local.stack import Stack, default_specs  # noqa: E402
from sandbox.stripe.webhook import sign  # noqa: E402

SECRET = "whsec_local_dev_only"
APP_TOKEN = "Bearer local-app-token"
ADMIN_TOKEN = "Bearer local-admin-token"
PORTS = {
    "sandbox": 25070,
    "ingest": 25080,
    "support": 25081,
    "circle_sync": 25201,
    "convertkit_sync": 25202,
    "crm_sync": 25203,
}
CHECKS = [not_a_server_error, response_schema_conformance]
#: how many failing requests are printed in full per operation and kind
SAMPLES = 3
#: rounds of redistributing the budget that exhausted operations could not use
ROUNDS = 6
#: aware date-times whose UTC time falls outside 0001..9999 (schemathesis' dates reach both
#: ends, but seldom with such an offset, so these are sent explicitly)
EARLIEST = "0001-01-01T00:00:00+14:00"
LATEST = "9999-12-31T23:59:59-14:00"


# -- what the stack knows before fuzzing --------------------------------------------------------


@dataclass(frozen=True)
class Seeded:
    """Real data to aim explicit examples at."""

    email: str
    customer_id: str
    stripe_customer_id: str
    event_id: str
    checkout_session_id: str | None
    failed_customer_id: str
    failed_event_id: str


def wait_for(check: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.3)
    raise SystemExit(f"error: timed out after {timeout:.0f} s waiting for {what}")


def seed_data(sandbox: str, support: str) -> Seeded:
    admin = {"Authorization": ADMIN_TOKEN}

    def purchase(email: str) -> dict[str, Any]:
        body = {"scenario": "purchase", "email": email}
        made = httpx.post(f"{sandbox}/_sandbox/stripe/trigger", json=body, timeout=30)
        made.raise_for_status()
        return dict(made.json())

    def search(q: str) -> list[dict[str, Any]]:
        found = httpx.get(f"{support}/api/customers", params={"q": q}, headers=admin, timeout=10)
        return list(found.json()["customers"]) if found.status_code == 200 else []

    def failed(event_id: str) -> bool:
        params = {"integration": "circle", "status": "failed"}
        found = httpx.get(f"{support}/api/failures", params=params, headers=admin, timeout=10)
        return any(f["event_id"] == event_id for f in found.json()["failures"])

    email = f"fuzz.{uuid.uuid4().hex[:8]}@example.com"
    good = purchase(email)
    customer = wait_for(lambda: search(email), 30, "support to find the seeded customer")[0]
    session = good["event"]["data"]["object"].get("id")

    httpx.post(
        f"{sandbox}/_sandbox/faults", json={"provider": "circle", "status": 503}, timeout=10
    ).raise_for_status()
    try:
        bad = purchase(f"fuzz.failing.{uuid.uuid4().hex[:8]}@example.com")
        wait_for(lambda: failed(bad["event_id"]), 90, "the failed Circle step in support")
    finally:
        httpx.delete(f"{sandbox}/_sandbox/faults", timeout=10).raise_for_status()
    failed_customer = wait_for(lambda: search(bad["event_id"]), 30, "the failing customer")[0]
    return Seeded(
        email=email,
        customer_id=customer["customer_id"],
        stripe_customer_id=good["customer_id"],
        event_id=good["event_id"],
        checkout_session_id=session if isinstance(session, str) else None,
        failed_customer_id=failed_customer["customer_id"],
        failed_event_id=bad["event_id"],
    )


# -- explicit examples ---------------------------------------------------------------------------


def label_of(operation: Any) -> str:
    return f"{operation.method.upper()} {operation.path}"


def explicit_cases(operation: Any, token: str | None, data: Seeded) -> list[Case[Any]]:
    """Requests sent on top of the generated ones, to get past the first refusal to real data."""
    label = label_of(operation)
    auth = {"authorization": token} if token else {}
    now = datetime.now(UTC)
    window = {"since": (now - timedelta(hours=1)).isoformat(), "until": now.isoformat()}
    if label == "POST /webhooks/stripe":
        signature = sign(b"", SECRET, int(time.time()))
        return [operation.Case(headers={**auth, "stripe-signature": signature})]
    if not token:
        return []
    if label == "GET /v1/customers/status":
        return [
            operation.Case(query={"email": e}, headers=auth)
            for e in (data.email, data.email.upper())
        ]
    if label.startswith("GET /v1/checkout-sessions/") and data.checkout_session_id:
        path = dict.fromkeys(re.findall(r"{(\w+)}", operation.path), data.checkout_session_id)
        return [operation.Case(path_parameters=path, headers=auth)]
    if label == "GET /api/customers":
        queries = [data.email, data.email.upper(), data.stripe_customer_id, data.event_id]
        queries += [data.customer_id, data.failed_event_id]
        return [operation.Case(query={"q": q}, headers=auth) for q in queries]
    if label == "GET /api/customers/{customer_id}":
        ids = [data.customer_id, data.failed_customer_id]
        return [operation.Case(path_parameters={"customer_id": i}, headers=auth) for i in ids]
    if label == "GET /api/failures":
        filters: list[dict[str, str]] = [{"integration": "circle"}]
        filters.append({"integration": "circle", "status": "failed"})
        filters.append({"integration": "circle", **window})
        filters += [{"since": EARLIEST}, {"until": LATEST}]
        return [operation.Case(query=q, headers=auth) for q in filters]
    if label == "GET /api/tickets":
        return [operation.Case(headers=auth)]
    if label == "POST /api/replays":
        one = {"integration": "circle", "event_id": data.failed_event_id}
        bodies: list[dict[str, Any]] = [
            {**one, "dry_run": True},
            {"integration": "circle", **window, "dry_run": True},
            one,  # really replays the failed step (202), and the second time 409 or 202
            one,
            {"integration": "circle", "since": EARLIEST, "until": LATEST, "dry_run": True},
        ]
        return [operation.Case(body=b, media_type="application/json", headers=auth) for b in bodies]
    return []


# -- sending and counting -----------------------------------------------------------------------


@dataclass
class Sample:
    """One request and its answer, printable."""

    request: str
    response: str
    problem: str


@dataclass
class OperationStats:
    sent: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    server_errors: int = 0
    nonconforming: int = 0
    #: answers with a status code the operation does not document (not a failure of CHECKS)
    undocumented: Counter[int] = field(default_factory=Counter)
    transport_errors: int = 0
    samples: dict[str, list[Sample]] = field(default_factory=dict)

    def keep(self, kind: str, sample: Sample) -> None:
        found = self.samples.setdefault(kind, [])
        if len(found) < SAMPLES:
            found.append(sample)


def redact(headers: dict[str, str]) -> dict[str, str]:
    secrets = {ADMIN_TOKEN: "Bearer <admin token>", APP_TOKEN: "Bearer <app token>"}
    return {k: secrets.get(v, v) for k, v in headers.items()}


def clip(value: Any, limit: int = 600) -> str:
    if isinstance(value, bytes):
        try:
            value = value.decode()
        except UnicodeDecodeError:
            value = repr(value)  # as sent, byte for byte
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} chars)"


def describe_request(prepared: Any) -> str:
    headers = redact({k: str(v) for k, v in dict(prepared.headers).items()})
    shown = {k: v for k, v in headers.items() if k.lower() not in ("user-agent", "accept-encoding")}
    body = clip(prepared.body) if prepared.body else ""
    return f"{prepared.method} {prepared.url} headers={json.dumps(shown)} body={body}"


def documented(operation: Any, status: int) -> bool:
    responses = operation.definition.raw.get("responses", {})
    return any(key in responses for key in (str(status), f"{status // 100}XX", "default"))


class Sender:
    """Sends each case, validates the answer and counts it against its operation."""

    def __init__(self) -> None:
        self.session = requests.Session()
        self.stats: dict[str, OperationStats] = {}

    def send(self, service: str, case: Case[Any]) -> None:
        stats = self.stats.setdefault(f"{service} {label_of(case.operation)}", OperationStats())
        stats.sent += 1
        try:
            response = case.call(session=self.session, timeout=15)
        except requests.RequestException as exc:
            stats.transport_errors += 1
            what = f"{case.method} {case.formatted_path} query={clip(case.query)}"
            stats.keep("transport", Sample(what, "(no answer)", f"{type(exc).__name__}: {exc}"))
            return
        stats.statuses[response.status_code] += 1
        if not documented(case.operation, response.status_code):
            stats.undocumented[response.status_code] += 1
            if response.status_code < 500:
                problem = "status code not in the OpenAPI document"
                answer = f"{response.status_code} {clip(response.content)}"
                stats.keep(
                    "undocumented", Sample(describe_request(response.request), answer, problem)
                )
        try:
            case.validate_response(response, checks=CHECKS)
        except FailureGroup as group:
            self._failed(stats, response, list(group.exceptions))
        except Failure as failure:
            self._failed(stats, response, [failure])

    def _failed(self, stats: OperationStats, response: Any, failures: list[Failure]) -> None:
        request = describe_request(response.request)
        answer = f"{response.status_code} {clip(response.content)}"
        for failure in failures:
            kind = "5xx" if isinstance(failure, ServerError) else "conformance"
            if kind == "5xx":
                stats.server_errors += 1
            else:
                stats.nonconforming += 1
            problem = f"{type(failure).__name__}: {failure.title}: {clip(failure.message, 400)}"
            stats.keep(kind, Sample(request, answer, problem))


# -- the fuzzing --------------------------------------------------------------------------------


@dataclass
class Target:
    service: str
    operation: Any
    token: str | None

    @property
    def name(self) -> str:
        return f"{self.service} {label_of(self.operation)} [{'token' if self.token else 'anon'}]"


def run_target(
    target: Target, budget: int, round_seed: int, explicit: list[Case[Any]], sender: Sender
) -> int:
    """One Hypothesis run of one (operation, token); how many cases it sent."""
    fixed = {"authorization": target.token} if target.token else None
    strategy = st.one_of(
        target.operation.as_strategy(GenerationMode.POSITIVE, headers=fixed),
        target.operation.as_strategy(GenerationMode.NEGATIVE, headers=fixed),
    )
    before = sum(s.sent for s in sender.stats.values())

    def check(case: Case[Any]) -> None:
        sender.send(target.service, case)

    test: Callable[..., None] = given(case=strategy)(check)
    for case in explicit:
        test = example(case=case)(test)
    test = seed(round_seed)(test)
    settings(
        max_examples=budget,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )(test)()
    return sum(s.sent for s in sender.stats.values()) - before


def fuzz_all(targets: list[Target], cases: int, base_seed: int, data: Seeded) -> Sender:
    sender = Sender()
    active = list(targets)
    remaining = cases
    for round_no in range(ROUNDS):
        if remaining <= 0 or not active:
            break
        share = math.ceil(remaining / len(active))
        print(f"round {round_no + 1}: {len(active)} targets x {share} cases", flush=True)
        still = []
        for i, target in enumerate(active):
            explicit = explicit_cases(target.operation, target.token, data) if round_no == 0 else []
            started = time.monotonic()
            try:
                sent = run_target(
                    target, share, base_seed * 1000 + round_no * 100 + i, explicit, sender
                )
            except Exception as exc:  # a generation problem must not hide the other targets
                print(f"  {target.name}: stopped: {type(exc).__name__}: {exc}", flush=True)
                continue
            remaining -= sent
            took = time.monotonic() - started
            print(f"  {target.name}: {sent} cases in {took:.1f} s", flush=True)
            # Hypothesis stops early once it has tried an operation's whole input space.
            if sent >= share * 0.9:
                still.append(target)
        active = still
    return sender


def load_targets(ingest: str, support: str) -> list[Target]:
    targets = []
    for service, base, token in (("ingest", ingest, APP_TOKEN), ("support", support, ADMIN_TOKEN)):
        schema = schemathesis.openapi.from_url(f"{base}/openapi.json", timeout=10)
        for result in schema.get_all_operations():
            if isinstance(result, Err):  # a part of the document schemathesis cannot use
                raise SystemExit(f"error: {service}'s OpenAPI document: {result.err()}")
            operation = result.ok()
            targets += [Target(service, operation, None), Target(service, operation, token)]
    return targets


# -- the report ---------------------------------------------------------------------------------


def counts(counter: Counter[int]) -> str:
    return ", ".join(f"{code}: {n}" for code, n in sorted(counter.items()))


def report(sender: Sender, seconds: float) -> str:
    rows = [
        "| service | operation | cases | status codes | 5xx | schema failures | no answer "
        "| undocumented status |",
        "|---|---|---:|---|---:|---:|---:|---|",
    ]
    total = OperationStats()
    for name in sorted(sender.stats):
        s = sender.stats[name]
        service, label = name.split(" ", 1)
        rows.append(
            f"| {service} | `{label}` | {s.sent} | {counts(s.statuses)} | {s.server_errors} "
            f"| {s.nonconforming} | {s.transport_errors} | {counts(s.undocumented) or 0} |"
        )
        total.sent += s.sent
        total.server_errors += s.server_errors
        total.nonconforming += s.nonconforming
        total.transport_errors += s.transport_errors
        total.statuses.update(s.statuses)
        total.undocumented.update(s.undocumented)
    rows.append(
        f"| **all** | | **{total.sent}** | {counts(total.statuses)} | **{total.server_errors}** "
        f"| **{total.nonconforming}** | **{total.transport_errors}** "
        f"| {counts(total.undocumented) or 0} |"
    )
    rate = total.sent / seconds if seconds else 0.0
    rows.append("")
    rows.append(f"{total.sent} cases in {seconds:.0f} s ({rate:.0f} cases/s).")
    return "\n".join(rows)


def print_samples(sender: Sender) -> None:
    for name in sorted(sender.stats):
        for kind, samples in sorted(sender.stats[name].samples.items()):
            for sample in samples:
                print(f"\n[{kind}] {name}\n  request:  {sample.request}")
                print(f"  response: {sample.response}\n  problem:  {sample.problem}")


# -- the stack ----------------------------------------------------------------------------------


def stack_env(bootstrap: str, mongo: str) -> dict[str, str]:
    sandbox = f"http://127.0.0.1:{PORTS['sandbox']}"
    run_id = uuid.uuid4().hex[:8]
    return {
        **os.environ,
        "SWITCHBOARD_ENV": "local",
        "PYTHONUNBUFFERED": "1",
        "SWITCHBOARD_KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "SWITCHBOARD_MONGODB_URI": mongo,
        "SWITCHBOARD_MONGODB_DATABASE": f"fuzz_{run_id}",
        "SWITCHBOARD_KAFKA_GROUP_PREFIX": f"fuzz-{run_id}",
        "SWITCHBOARD_CIRCLE_BASE_URL": f"{sandbox}/circle",
        "SWITCHBOARD_KIT_BASE_URL": f"{sandbox}/kit",
        "SWITCHBOARD_HUBSPOT_BASE_URL": f"{sandbox}/hubspot",
        "SWITCHBOARD_ZENDESK_BASE_URL": f"{sandbox}/zendesk",
        "SWITCHBOARD_STRIPE_API_BASE_URL": f"{sandbox}/stripe",
        "SWITCHBOARD_SANDBOX_INGEST_URL": f"http://127.0.0.1:{PORTS['ingest']}/webhooks/stripe",
        "SWITCHBOARD_SANDBOX_CIRCLE_RATE_LIMIT": "0",
        "SWITCHBOARD_SANDBOX_KIT_RATE_LIMIT": "0",
        "SWITCHBOARD_RATE_LIMIT": "0",  # the workers' pacing, like the sandbox's limits
        "SWITCHBOARD_SANDBOX_HUBSPOT_RATE_LIMIT": "0",
        # Kit's lists and HubSpot's search without their lag: drift is made and swept at once.
        "SWITCHBOARD_SANDBOX_KIT_LIST_LAG_S": "0",
        "SWITCHBOARD_SANDBOX_HUBSPOT_SEARCH_LAG_S": "0",
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=10_000, help="requests in all (both services)")
    parser.add_argument("--seed", type=int, default=0, help="the same seed sends the same requests")
    args = parser.parse_args()
    bootstrap = os.environ.get("FUZZ_KAFKA", "127.0.0.1:25092")
    mongo = os.environ.get(
        "FUZZ_MONGODB_URI", "mongodb://127.0.0.1:27022/?directConnection=true&maxPoolSize=1"
    )
    urls = {name: f"http://127.0.0.1:{port}" for name, port in PORTS.items()}
    stack = Stack(default_specs(PORTS), stack_env(bootstrap, mongo), REPO / ".run/fuzz/logs")
    started = time.monotonic()
    stack.start(timeout=90)
    print(f"stack ready in {time.monotonic() - started:.1f} s; logs in {stack.log_dir}", flush=True)
    try:
        data = seed_data(urls["sandbox"], urls["support"])
        print(f"seeded: {data.customer_id} (ok), {data.failed_customer_id} (failed Circle step)")
        targets = load_targets(urls["ingest"], urls["support"])
        print(f"{len(targets)} targets: {sorted({label_of(t.operation) for t in targets})}")
        started = time.monotonic()
        sender = fuzz_all(targets, args.cases, args.seed, data)
        seconds = time.monotonic() - started
    finally:
        stack.stop()
    print_samples(sender)
    print(f"\n{report(sender, seconds)}")
    bad = sum(s.server_errors + s.transport_errors for s in sender.stats.values())
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
