"""Every admin API route answers 401 without a valid token, before anything else; console
pages answer 401 with the login form; forms from another origin are refused. No database or
broker is needed: these answers come before either is touched."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from services.support.main import create_app
from services.support.settings import SupportSettings


@pytest.fixture(scope="module")
def client() -> TestClient:
    settings = SupportSettings.load(
        env="local",
        kafka_bootstrap_servers="127.0.0.1:1",
        mongodb_uri="mongodb://127.0.0.1:1/?directConnection=true&serverSelectionTimeoutMS=100",
        admin_tokens="right-token",
    )
    # No `with`: the lifespan (Kafka, Mongo) does not run.
    return TestClient(create_app(settings), follow_redirects=False)


API_ROUTES = [
    ("GET", "/api/customers?q=jane@example.com"),
    ("GET", "/api/customers/cust_1"),
    ("GET", "/api/failures?integration=circle"),
    ("GET", "/api/tickets"),
    ("GET", "/api/reconcile"),
    ("POST", "/api/replays"),
    ("GET", "/api/nothing-here"),
]


def test_the_openapi_document_lists_every_admin_route_with_bearer_auth(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    paths = spec["paths"]
    for path in ("/api/customers", "/api/customers/{customer_id}", "/api/failures"):
        assert path in paths
    assert "post" in paths["/api/replays"]
    assert "HTTPBearer" in spec["components"]["securitySchemes"]


@pytest.mark.parametrize(("method", "path"), API_ROUTES)
@pytest.mark.parametrize("authorization", [None, "Bearer wrong-token", "Basic right-token"])
def test_every_api_route_needs_the_admin_token(
    client: TestClient, method: str, path: str, authorization: str | None
) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    response = client.request(method, path, headers=headers, content=b"{not json")
    assert response.status_code == 401
    assert response.json()["error"] == "unauthorized"


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ({"integration": "circle"}, "give event_id, or both since and until"),
        (
            {"integration": "circle", "event_id": "evt_1", "since": "2026-01-01T00:00:00Z"},
            "not both",
        ),
        ({"integration": "circle", "event_id": "evt_1", "surprise": 1}, "Extra inputs"),
    ],
)
def test_a_wrong_replay_request_gets_a_specific_error(
    client: TestClient, body: dict[str, object], problem: str
) -> None:
    response = client.post(
        "/api/replays", json=body, headers={"Authorization": "Bearer right-token"}
    )
    assert response.status_code == 422
    assert response.json()["error"] == "invalid_request"
    assert problem in str(response.json()["details"])


def test_an_unknown_integration_is_named(client: TestClient) -> None:
    response = client.post(
        "/api/replays",
        json={"integration": "myspace", "event_id": "evt_1"},
        headers={"Authorization": "Bearer right-token"},
    )
    assert response.status_code == 422
    assert response.json()["error"] == "unknown_integration"


@pytest.mark.parametrize(
    "path", ["/", "/?q=jane@example.com", "/customers/c1", "/failures", "/reconcile"]
)
def test_console_pages_need_a_login(client: TestClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 401
    assert 'name="token"' in response.text
    assert 'id="results"' not in response.text  # nothing is searched or listed


def test_login_sets_a_strict_httponly_cookie(client: TestClient) -> None:
    origin = {"Origin": "http://testserver"}
    wrong = client.post("/login", data={"token": "nope"}, headers=origin)
    assert wrong.status_code == 401
    assert "set-cookie" not in wrong.headers
    right = client.post(
        "/login", data={"token": "right-token", "next": "/failures"}, headers=origin
    )
    assert right.status_code == 303
    assert right.headers["location"] == "/failures"
    cookie = right.headers["set-cookie"].lower()
    assert "httponly" in cookie
    assert "samesite=strict" in cookie


def test_login_never_redirects_to_another_site(client: TestClient) -> None:
    response = client.post(
        "/login",
        data={"token": "right-token", "next": "//evil.example/"},
        headers={"Origin": "http://testserver"},
    )
    assert response.headers["location"] == "/"


@pytest.mark.parametrize(
    "headers",
    [{}, {"Origin": "https://evil.example"}, {"Referer": "https://evil.example/page"}],
    ids=["no origin", "other origin", "other referer"],
)
def test_forms_from_elsewhere_are_refused(client: TestClient, headers: dict[str, str]) -> None:
    client.cookies.set("switchboard_admin", "right-token")
    try:
        response = client.post(
            "/replays", data={"integration": "circle", "event_id": "evt_1"}, headers=headers
        )
    finally:
        client.cookies.clear()
    assert response.status_code == 403
    assert response.json()["error"] == "cross_origin"
