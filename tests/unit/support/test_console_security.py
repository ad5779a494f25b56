"""The console's and admin API's guardrails without a database or broker: security headers on
every console response, the `next`/back-link check, throttles (429 with `Retry-After`) on the
admin API and the login, the backoff after failed logins, and the count of 401s."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from services.support.auth import LoginBackoff
from services.support.console import TEMPLATES, _safe_next
from services.support.main import create_app
from services.support.settings import SupportSettings

ORIGIN = {"Origin": "http://testserver"}
RIGHT = {"Authorization": "Bearer right-token"}


def client(**overrides: object) -> TestClient:
    settings = SupportSettings.load(
        env="local",
        kafka_bootstrap_servers="127.0.0.1:1",
        mongodb_uri="mongodb://127.0.0.1:1/?directConnection=true&serverSelectionTimeoutMS=100",
        admin_tokens="right-token",
        **overrides,
    )
    return TestClient(create_app(settings), follow_redirects=False)


def unauthorized(test: TestClient, surface: str) -> float:
    pattern = rf'^switchboard_http_unauthorized_total\{{surface="{surface}"\}} (\S+)$'
    found = re.search(pattern, test.get("/metrics").text, re.MULTILINE)
    assert found, f"no 401 counter for {surface}"
    return float(found.group(1))


# -- security headers -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/login", 200),
        ("GET", "/", 401),
        ("GET", "/failures", 401),
        ("GET", "/console.css", 200),
        ("POST", "/logout", 403),
        ("GET", "/no-such-page", 404),
    ],
)
def test_every_console_response_carries_the_security_headers(
    method: str, path: str, status: int
) -> None:
    response = client().request(method, path)
    assert response.status_code == status
    csp = response.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in csp
    assert "default-src 'self'" in csp
    assert "script-src 'none'" in csp
    assert "unsafe-inline" not in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Referrer-Policy"] == "same-origin"


def test_the_admin_api_answers_json_without_the_console_policy() -> None:
    response = client().get("/api/tickets")
    assert response.status_code == 401
    assert "Content-Security-Policy" not in response.headers


def test_templates_need_nothing_the_policy_forbids() -> None:
    """No inline script, style block, style attribute or event handler: the CSP allows only the
    console's own stylesheet."""
    for page in Path(TEMPLATES).glob("*.html"):
        text = page.read_text()
        assert not re.search(r"<script|<style|\sstyle=|\son[a-z]+=", text, re.I), page.name


def test_the_stylesheet_is_served_as_css() -> None:
    response = client().get("/console.css")
    assert response.headers["content-type"].startswith("text/css")
    assert "body {" in response.text


# -- the back link ----------------------------------------------------------------------------

BAD_NEXT = [
    "//evil.example",
    "//evil.example/path",
    "/\\evil.example",
    "/\\\\evil.example",
    "\\/evil.example",
    "\\\\evil.example",
    "/\t/evil.example",
    "/\n/evil.example",
    "/ /evil.example",
    "https://evil.example/",
    "http:/evil.example",
    "javascript:alert(1)",
    "evil.example",
    "failures",
    "",
    "/x\x00",
    "/" + "a" * 3000,
]


@pytest.mark.parametrize("value", BAD_NEXT)
def test_a_next_that_is_not_a_path_of_the_console_goes_home(value: str) -> None:
    assert _safe_next(value) == "/"


@pytest.mark.parametrize(
    "value", ["/", "/failures", "/customers/cust_1", "/?q=jane%40example.com", "/failures?x=1#a"]
)
def test_a_path_of_the_console_is_kept(value: str) -> None:
    assert _safe_next(value) == value


@pytest.mark.parametrize("value", ["/\\evil.example", "//evil.example", "https://evil.example"])
def test_login_and_back_links_never_lead_elsewhere(value: str) -> None:
    test = client()
    login = test.post("/login", data={"token": "right-token", "next": value}, headers=ORIGIN)
    assert login.headers["location"] == "/"
    form = test.get("/login", params={"next": value})
    assert 'name="next" value="/"' in form.text


# -- throttles and backoff --------------------------------------------------------------------


def test_the_admin_api_is_throttled_per_address_before_the_token_is_checked() -> None:
    test = client(admin_rate_limit_per_ip=2)
    assert test.get("/api/tickets", headers={"Authorization": "Bearer guess"}).status_code == 401
    assert test.get("/api/nothing", headers=RIGHT).status_code == 404
    response = test.get("/api/tickets", headers={"Authorization": "Bearer guess-2"})
    assert response.status_code == 429
    assert response.json()["error"] == "rate_limited"
    assert int(response.headers["Retry-After"]) == 30  # 60 s / 2


def test_the_admin_api_is_throttled_per_token() -> None:
    test = client(admin_rate_limit_per_ip=0, admin_rate_limit_per_token=1)
    assert test.get("/api/nothing", headers=RIGHT).status_code == 404
    assert test.get("/api/nothing", headers=RIGHT).status_code == 429
    assert test.get("/api/nothing", headers={"Authorization": "Bearer other"}).status_code == 401


def test_logins_are_throttled_per_address_with_the_login_form() -> None:
    test = client(login_rate_limit_per_ip=2, login_backoff_after_failures=100)
    for _ in range(2):
        assert test.post("/login", data={"token": "nope"}, headers=ORIGIN).status_code == 401
    response = test.post("/login", data={"token": "right-token"}, headers=ORIGIN)
    assert response.status_code == 429
    assert int(response.headers["Retry-After"]) >= 1
    assert 'name="token"' in response.text
    assert "Too many logins" in response.text
    assert "set-cookie" not in response.headers


def test_logins_are_throttled_per_attempted_token() -> None:
    test = client(login_rate_limit_per_token=1, login_backoff_after_failures=100)
    assert test.post("/login", data={"token": "guess"}, headers=ORIGIN).status_code == 401
    assert test.post("/login", data={"token": "guess"}, headers=ORIGIN).status_code == 429
    assert test.post("/login", data={"token": "right-token"}, headers=ORIGIN).status_code == 303


def test_failed_logins_lock_the_address_out_and_are_counted() -> None:
    test = client(login_backoff_after_failures=3)
    for _ in range(3):
        assert test.post("/login", data={"token": "nope"}, headers=ORIGIN).status_code == 401
    locked = test.post("/login", data={"token": "right-token"}, headers=ORIGIN)
    assert locked.status_code == 429  # even the right token waits out the lockout
    assert locked.headers["Retry-After"] == "1"
    assert unauthorized(test, "console_login") == 3


def test_a_wrong_cookie_is_a_failed_login_and_is_cleared() -> None:
    test = client()
    test.cookies.set("switchboard_admin", "guess")
    response = test.get("/failures")
    test.cookies.clear()
    assert response.status_code == 401
    assert 'switchboard_admin=""' in response.headers["set-cookie"]
    assert unauthorized(test, "console_login") == 1


def test_admin_api_401s_are_counted() -> None:
    test = client()
    assert unauthorized(test, "admin_api") == 0
    test.get("/api/tickets")
    test.get("/api/tickets", headers={"Authorization": "Bearer guess"})
    assert unauthorized(test, "admin_api") == 2


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_the_backoff_doubles_from_one_second_up_to_its_most_and_resets_on_success() -> None:
    clock = Clock()
    backoff = LoginBackoff(free=5, most=900, clock=clock)
    lockouts = [backoff.failed("1.2.3.4") for _ in range(16)]
    assert lockouts[:4] == [0, 0, 0, 0]
    assert lockouts[4:9] == [1, 2, 4, 8, 16]
    assert lockouts[-1] == 900
    with pytest.raises(Exception, match="failed logins") as raised:
        backoff.check("1.2.3.4")
    assert getattr(raised.value, "headers", {})["Retry-After"] == "900"
    backoff.check("5.6.7.8")  # another address is not affected
    clock.now += 900
    backoff.check("1.2.3.4")  # the lockout is over
    backoff.succeeded("1.2.3.4")
    assert backoff.failed("1.2.3.4") == 0  # counted from 0 again


def test_defaults() -> None:
    settings = SupportSettings.load(env="local")
    assert (settings.admin_rate_limit_per_ip, settings.admin_rate_limit_per_token) == (300, 600)
    assert (settings.login_rate_limit_per_ip, settings.login_rate_limit_per_token) == (10, 5)
    assert settings.login_backoff_after_failures == 5
    assert settings.login_backoff_max_seconds == 900
