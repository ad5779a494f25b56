"""The metrics contract: every metric the alerts and the dashboard query is exported by a
running service, names follow Prometheus conventions, no label carries an email or an id, and
`promtool check metrics` accepts each service's /metrics. Scraped from the whole system after
one purchase went through."""

from __future__ import annotations

import re
import signal
import subprocess
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import unique_email
from tests.deploy.test_monitoring import queried_metrics
from tests.tools import promtool

from .conftest import System, circle_member, metrics_url, wait_for

pytestmark = pytest.mark.e2e

SERVICES = ("ingest", "support", "circle_sync", "convertkit_sync", "crm_sync")
#: label names that would carry a person or an id
FORBIDDEN_LABELS = {
    "email", "customer", "customer_id", "event", "event_id", "id", "user", "user_id",
    "stripe_customer_id", "subscription_id", "payment_id", "charge_id", "invoice_id",
    "ticket_id", "incident_id", "replay_id",
}  # fmt: skip
ID_VALUE = re.compile(
    r"@|\b(evt|cus|sub|ch|pi|in|cs|py|re|dp)_[A-Za-z0-9]{6,}|[0-9a-f]{24,}|"
    r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
    re.IGNORECASE,
)
#: units a name may end with (base units), for metrics that measure something with a unit
TIME_WORDS = re.compile(r"(^|_)(latency|duration|age|time|delay|wait)(_|$)")


def scrape(service: str) -> str:
    response = httpx.get(metrics_url(service), timeout=10)
    response.raise_for_status()
    return response.text


@pytest.fixture(scope="module")
def scraped(system: System) -> dict[str, Any]:
    """service -> its /metrics text, after one purchase reached every integration."""
    email = unique_email("metrics")
    sent = system.trigger("purchase", email=email)
    assert sent["ingest"]["status_code"] == 200
    wait_for(lambda: circle_member(system.state(), email), what="the Circle member")

    def every_worker_reported() -> bool:
        return all(
            "switchboard_sync_results_total{" in scrape(name)
            for name in ("circle_sync", "convertkit_sync", "crm_sync")
        )

    wait_for(every_worker_reported, timeout=60, what="a sync result from every worker")
    # one webhook with a bad signature, so the rejection outcome is exported too
    httpx.post(
        f"{system.ingest}/webhooks/stripe",
        content=b"{}",
        headers={"Stripe-Signature": "t=1,v1=00"},
        timeout=10,
    )
    texts = {name: scrape(name) for name in SERVICES}
    return {"texts": texts, "email": email, "sent": sent}


def exported(text: str) -> set[str]:
    """Every series name a query could use: counters as `_total`, histograms as
    `_bucket`/`_sum`/`_count`, also for a labelled metric with no sample yet (its HELP/TYPE
    lines are there)."""
    names = set()
    for family in text_string_to_metric_families(text):
        if family.type == "counter":
            names.add(f"{family.name}_total")
        elif family.type == "histogram":
            names |= {f"{family.name}_{s}" for s in ("bucket", "sum", "count")}
        else:
            names.add(family.name)
        names |= {sample.name for sample in family.samples}
    return names


def test_every_queried_metric_is_exported(scraped: dict[str, Any]) -> None:
    everything = set().union(*(exported(text) for text in scraped["texts"].values()))
    missing = [
        f"{name} (used by {', '.join(sorted(where))})"
        for name, where in sorted(queried_metrics().items())
        if name not in everything
    ]
    assert not missing, f"queried but not exported: {missing}"


#: series an alert takes `increase()` or `rate()` of: each must exist at 0 from the start, or the
#: first failure after a start (a series born at 1) raises no alert
ALERTED_AT_ZERO = {
    "circle_sync": [
        'switchboard_sync_failures_total{integration="circle"}',
        'switchboard_sync_auth_errors_total{integration="circle",status="401"}',
    ],
    "convertkit_sync": ['switchboard_sync_failures_total{integration="convertkit"}'],
    "crm_sync": ['switchboard_sync_failures_total{integration="crm"}'],
    "support": [
        *(
            f'switchboard_support_tickets_created_total{{integration="{name}"}}'
            for name in ("circle", "convertkit", "crm")
        ),
        'switchboard_http_unauthorized_total{surface="admin_api"}',
        'switchboard_http_unauthorized_total{surface="console_login"}',
    ],
    "ingest": [
        'switchboard_ingest_webhooks_total{outcome="timestamp_too_old",provider="stripe",'
        'type="unknown"}',
        'switchboard_http_unauthorized_total{surface="status_api"}',
    ],
}


@pytest.mark.parametrize("service", sorted(ALERTED_AT_ZERO))
def test_alerted_counters_exist_at_zero_from_the_start(service: str, system: System) -> None:
    """A fresh process (restarted here, as a deploy or a crash would) exports them at 0."""
    system.stack.kill(service, signal.SIGTERM)
    system.stack.restart(service)
    lines = scrape(service).splitlines()
    for series in ALERTED_AT_ZERO[service]:
        assert f"{series} 0.0" in lines, f"{service} does not export {series} at 0"


@pytest.mark.parametrize("service", SERVICES)
def test_metric_names_follow_prometheus_conventions(service: str, scraped: dict[str, Any]) -> None:
    problems = []
    for family in text_string_to_metric_families(scraped["texts"][service]):
        name = family.name
        if not name.startswith("switchboard_"):
            problems.append(f"{name}: not in the switchboard_ namespace")
        if family.type == "counter" and name.endswith("_total"):
            problems.append(f"{name}: counter family named twice _total")
        if family.type != "counter" and name.endswith("_total"):
            problems.append(f"{name}: only counters end in _total")
        if re.search(r"_(ms|milliseconds|minutes|hours|kb|mb|percent)$", name):
            problems.append(f"{name}: not a base unit")
        timed = TIME_WORDS.search(name) and family.type in ("gauge", "histogram")
        if timed and not name.endswith("_seconds"):
            problems.append(f"{name}: a time in seconds ends in _seconds")
    assert not problems, problems


@pytest.mark.parametrize("service", SERVICES)
def test_no_label_carries_a_person_or_an_id(service: str, scraped: dict[str, Any]) -> None:
    # the ids of the purchase that went through (event, Stripe customer, subscription, ...)
    sent_ids = {
        value
        for key, value in scraped["sent"].items()
        if key.endswith("_id") and isinstance(value, str) and value
    }
    problems = []
    for family in text_string_to_metric_families(scraped["texts"][service]):
        for sample in family.samples:
            for label, value in sample.labels.items():
                if label in FORBIDDEN_LABELS:
                    problems.append(f"{sample.name}: label {label}")
                if ID_VALUE.search(value) or value in sent_ids or scraped["email"] in value:
                    problems.append(f"{sample.name}{{{label}={value!r}}}")
    assert not problems, problems


@pytest.mark.parametrize("service", SERVICES)
def test_promtool_check_metrics(service: str, scraped: dict[str, Any]) -> None:
    result = subprocess.run(
        [promtool(), "check", "metrics"],
        input=scraped["texts"][service],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
