"""The Reconcile page (`GET /reconcile`) and `GET /api/reconcile`: each integration's last sweep
from the sweeps store — when, what it checked, what it found by kind, what it repaired and only
reported, with the people — or "no sweep yet" with how to get one. Served by the real app
(its admin cookie and bearer checks) with the sweeps store's in-memory fake in place of Mongo;
nothing else is touched, so no database or broker is needed."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from libs.reconcile.records import (
    DriftKind,
    Finding,
    Progress,
    SweepRecord,
    SweepState,
    summarize,
)
from services.support.console import templates
from services.support.fakes import InMemorySweepStore
from services.support.main import create_app
from services.support.reconcile_page import reconcile_page
from services.support.settings import SupportSettings

from .world import T0

TOKEN = "right-token"
HOSTILE = "<script>alert(1)</script>@example.com"

FINDINGS = (
    Finding(
        customer_id="cust_1",
        email="ann@example.com",
        kinds=(DriftKind.MISSING_ACCESS,),
        actions=("add_access_group:Members",),
        outcome="repaired",
    ),
    Finding(
        customer_id="cust_2",
        email="bob@example.com",
        kinds=(DriftKind.EXTRA_ACCESS, DriftKind.STALE_TAG),
        actions=("remove_access_group:Members", "remove_tag:paid"),
        outcome="ticketed",
    ),
    Finding(
        customer_id="cust/3",
        email="cy@example.com",
        kinds=(DriftKind.WRONG_STAGE, DriftKind.LEDGER_OUT_OF_DATE),
        actions=("set_stage:customer",),
        outcome="repaired",
    ),
    Finding(
        email=HOSTILE,
        kinds=(DriftKind.UNKNOWN_PERSON,),
        outcome="reported",
        holds=("Members",),
    ),
)


def circle_sweep(**changes: object) -> SweepRecord:
    record = SweepRecord(
        sweep_id="rec_circle_1",
        integration="circle",
        dry_run=False,
        requested_by="cli",
        state=SweepState.DONE,
        requested_at=T0,
        started_at=T0 + timedelta(seconds=1),
        finished_at=T0 + timedelta(seconds=43),
        owner="circle-sync-0",
        progress=Progress(pages=7, calls=9, checked=612, phase="done"),
        summary=summarize(list(FINDINGS), checked=612, calls=9, seconds=41.5),
        findings=FINDINGS,
        invariants={"paying_without_access": 1, "unknown_with_access": 1},
        skipped_in_flight=3,
    )
    return record.model_copy(update=changes)


@pytest.fixture
def sweeps() -> InMemorySweepStore:
    return InMemorySweepStore()


@pytest.fixture
def client(sweeps: InMemorySweepStore) -> TestClient:
    settings = SupportSettings.load(
        env="local",
        kafka_bootstrap_servers="127.0.0.1:1",
        mongodb_uri="mongodb://127.0.0.1:1/?directConnection=true&serverSelectionTimeoutMS=100",
        admin_tokens=TOKEN,
    )
    app = create_app(settings)
    app.state.support.sweeps = sweeps  # the fake in place of Mongo
    # No `with`: the lifespan (Kafka, Mongo) does not run; these routes need neither.
    return TestClient(app, follow_redirects=False)


def section(html: str, integration: str) -> str:
    start = html.index(f'id="sweep-{integration}"')
    end = html.find("<section", start)
    return html[start : end if end != -1 else len(html)]


async def test_the_page_shows_what_the_last_sweep_found_did_and_to_whom(
    sweeps: InMemorySweepStore, client: TestClient
) -> None:
    older = circle_sweep(sweep_id="rec_circle_0", finished_at=T0, findings=(), summary=None)
    await sweeps.save(older)
    await sweeps.save(circle_sweep())
    client.cookies.set("switchboard_admin", TOKEN)
    response = client.get("/reconcile")
    assert response.status_code == 200
    assert '<a href="/reconcile">Reconcile</a>' in response.text  # in the nav
    circle = section(response.text, "circle")
    assert "rec_circle_1" in circle
    assert "rec_circle_0" not in circle
    assert '<strong class="requested-by">cli</strong>' in circle
    assert "dry run" not in circle
    assert "started 2026-03-04T05:06:08 · finished 2026-03-04T05:06:50 UTC" in circle
    assert "612 customers · 7 pages · 9 calls" in circle
    assert "41.5 s" in circle
    assert "3 skipped as in flight" in circle
    for kind in DriftKind:
        assert (
            f'<tr data-kind="{kind.value}"><td><code>{kind.value}</code></td><td>1</td>' in circle
        )
    assert 'repaired <span class="repaired-count">2</span>' in circle
    assert 'only reported <span class="reported-count">2</span>' in circle
    assert "(ticketed 1: a repair did not hold)" in circle
    assert '<tr data-invariant="paying_without_access"><td><code>paying_without_access' in circle
    assert (
        '<tr data-invariant="crm_stage_mismatch"><td><code>crm_stage_mismatch</code></td><td>0'
        in circle
    )
    # the people, each email linking to its customer page when it has one
    assert '<a href="/customers/cust_1">ann@example.com</a>' in circle
    assert '<a href="/customers/cust%2F3">cy@example.com</a>' in circle
    assert "remove_access_group:Members, remove_tag:paid" in circle
    assert '<span class="pill ticketed">ticketed</span>' in circle
    assert "holds Members" in circle
    for name in ("convertkit", "crm"):
        never = section(response.text, name)
        assert "No sweep yet." in never
        assert f"switchboard reconcile --integration {name}" in never
        assert "SWITCHBOARD_RECONCILE_INTERVAL_SECONDS" in never
        assert "3600" in never


async def test_an_email_is_escaped_and_a_person_without_customer_is_not_linked(
    sweeps: InMemorySweepStore, client: TestClient
) -> None:
    await sweeps.save(circle_sweep())
    client.cookies.set("switchboard_admin", TOKEN)
    html = client.get("/reconcile").text
    assert "<script>" not in html
    assert (
        '&lt;script&gt;alert(1)&lt;/script&gt;@example.com <span class="muted">(no customer)'
        in html
    )


async def test_a_dry_run_and_a_waiting_request_are_said(sweeps: InMemorySweepStore) -> None:
    await sweeps.save(circle_sweep(dry_run=True, requested_by="schedule"))
    await sweeps.request("crm", dry_run=True, by="cli")
    failed = circle_sweep(
        sweep_id="rec_circle_2", state=SweepState.FAILED, finished_at=T0 + timedelta(hours=1)
    )
    await sweeps.save(failed)  # not done: the page keeps the last finished one
    page = await reconcile_page(sweeps, ["circle", "convertkit", "crm"])
    html = templates().env.get_template("reconcile.html").render(authed=True, **page)
    circle = section(html, "circle")
    assert "rec_circle_1" in circle
    assert "rec_circle_2" not in circle
    assert "dry run: nothing repaired, only reported" in circle
    assert '<strong class="requested-by">schedule</strong>' in circle
    crm = section(html, "crm")
    assert "A dry-run sweep asked for by cli" in crm
    assert "waits for a worker" in crm
    assert "No sweep yet." in crm


def test_the_page_needs_the_admin_cookie(client: TestClient) -> None:
    response = client.get("/reconcile")
    assert response.status_code == 401
    assert 'name="token"' in response.text
    assert "No sweep yet" not in response.text
    client.cookies.set("switchboard_admin", "wrong-token")
    assert client.get("/reconcile").status_code == 401


async def test_the_api_answers_each_integrations_last_sweep_as_json(
    sweeps: InMemorySweepStore, client: TestClient
) -> None:
    await sweeps.save(circle_sweep())
    client.cookies.set("switchboard_admin", TOKEN)  # the API takes no cookie
    assert client.get("/api/reconcile").status_code == 401
    client.cookies.clear()
    wrong = client.get("/api/reconcile", headers={"Authorization": "Bearer wrong-token"})
    assert wrong.status_code == 401
    response = client.get("/api/reconcile", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"integrations"}
    assert body["integrations"]["convertkit"] is None
    assert body["integrations"]["crm"] is None
    assert body["integrations"]["circle"] == circle_sweep().model_dump(mode="json")
    circle = body["integrations"]["circle"]
    assert circle["summary"]["found"]["unknown_person"] == 1
    assert circle["findings"][3]["email"] == HOSTILE
    assert "/api/reconcile" in client.get("/openapi.json").json()["paths"]
