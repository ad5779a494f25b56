"""The ops console: server-rendered pages behind the admin token.

Login stores the token in an HttpOnly, SameSite=Strict cookie. Every form POST is checked for
a same-origin `Origin`/`Referer` (see `auth.py`): that and SameSite=Strict are the CSRF defence.
A page requested without a valid cookie answers 401 with the login form. Every console response
carries the security headers of `SECURITY_HEADERS` (the console has no scripts and one
stylesheet, `/console.css`, so its CSP allows nothing else); logins are throttled and back off
after failures (`auth.AccessGuard`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote, urlsplit

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from pydantic import ValidationError

from libs.runtime.http import ApiError
from libs.runtime.throttle import client_ip
from services.ingest.read_model import CustomerReadModel

from . import customer_page, reconcile_page, views
from .api import ReplayRequest, run_replay, utc
from .auth import COOKIE, AccessGuard, AdminTokens, same_origin
from .metrics import SupportMetrics
from .service import Support
from .settings import SupportSettings
from .tickets import integration_name

TEMPLATES = Path(__file__).parent / "templates"
STYLESHEET = TEMPLATES / "console.css"

#: on every console response: no framing (clickjacking), no scripts, styles only from the
#: console's own stylesheet, forms only to the console; nothing cached or sniffed, no referrer
#: to other sites (`same-origin`, not `no-referrer`: under that, browsers send `Origin: null`
#: on the console's own form posts, which the CSRF check must then refuse)
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'none'; object-src 'none'; "
    "style-src 'self'; img-src 'self'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}
#: paths of support that are not the console: the admin API has its own (JSON) answers, and
#: the API docs (local mode only) load Swagger UI's scripts
NOT_CONSOLE = ("/api", "/docs", "/openapi.json", "/healthz", "/readyz", "/metrics")


def is_console(path: str) -> bool:
    return not any(path == p or path.startswith(p + "/") for p in NOT_CONSOLE)


class LoginRequired(Exception):
    def __init__(self, next_path: str = "/") -> None:
        self.next_path = next_path


def templates() -> Jinja2Templates:
    found = Jinja2Templates(directory=str(TEMPLATES))
    found.env.globals["integration_name"] = integration_name
    return found


def login_page(
    request: Request, pages: Jinja2Templates, next_path: str, error: str | None, status: int
) -> HTMLResponse:
    return pages.TemplateResponse(
        request,
        "login.html",
        {"next": _safe_next(next_path), "error": error, "authed": False},
        status_code=status,
    )


def _safe_next(value: str | None) -> str:
    r"""Only a path on this console, never another site: it must start with one `/` and hold
    no backslash (browsers read `/\host` as `//host`), no whitespace or control character
    (they drop tabs and newlines, so `/<tab>/host` is `//host` too), no scheme and no host."""
    if not value or len(value) > 2048 or not value.startswith("/") or value.startswith("//"):
        return "/"
    if "\\" in value or any(ch.isspace() or ord(ch) < 0x20 or ord(ch) == 0x7F for ch in value):
        return "/"
    parts = urlsplit(value)
    if parts.scheme or parts.netloc:
        return "/"
    return value


def _when(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return utc(datetime.fromisoformat(value))
    except ValueError:
        raise ApiError(422, "invalid_time", f"not a time: {value!r}") from None


@dataclass(frozen=True)
class ReplayForm:
    """The replay form, as the failures and customer pages post it to confirm, and the
    confirmation page posts it again to replay."""

    integration: str
    event_id: str
    since: str
    until: str
    back: str  # where the page links back to: a path on this console

    def replay_request(self, *, dry_run: bool) -> ReplayRequest:
        try:
            return ReplayRequest(
                integration=self.integration,
                event_id=self.event_id or None,
                since=_when(self.since),
                until=_when(self.until),
                dry_run=dry_run,
            )
        except ValidationError as exc:
            problem = exc.errors()[0]["msg"].removeprefix("Value error, ")
            raise ApiError(422, "invalid_replay", problem) from None


def replay_form(
    integration: Annotated[str, Form()],
    event_id: Annotated[str, Form()] = "",
    since: Annotated[str, Form()] = "",
    until: Annotated[str, Form()] = "",
    back: Annotated[str, Form()] = "/failures",
) -> ReplayForm:
    return ReplayForm(integration, event_id, since, until, _safe_next(back))


PostedReplayForm = Annotated[ReplayForm, Depends(replay_form)]


def console_router(
    settings: SupportSettings,
    support: Support,
    customers: CustomerReadModel,
    tokens: AdminTokens,
    metrics: SupportMetrics,
    pages: Jinja2Templates,
    guard: AccessGuard,
) -> APIRouter:
    router = APIRouter(include_in_schema=False)
    stylesheet = STYLESHEET.read_text()

    def require_admin(request: Request) -> None:
        cookie = request.cookies.get(COOKIE)
        if not tokens.valid(cookie):
            if cookie:  # a wrong token in the cookie is a failed login (the 401 clears it)
                ip = client_ip(request)
                guard.backoff.check(ip)
                guard.login_failed(ip)
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            raise LoginRequired(target)

    def require_form_post(request: Request) -> None:
        if not same_origin(request):
            raise ApiError(403, "cross_origin", "this form must be sent from the console itself")
        require_admin(request)

    def render(request: Request, name: str, context: dict[str, Any]) -> HTMLResponse:
        return pages.TemplateResponse(request, name, {"authed": True, **context})

    @router.get("/console.css")
    async def console_css() -> Response:
        return Response(stylesheet, media_type="text/css")

    @router.get("/login", response_class=HTMLResponse)
    async def login_form(request: Request, next: str = "/") -> HTMLResponse:
        return login_page(request, pages, next, None, 200)

    @router.post("/login")
    async def login(
        request: Request,
        token: Annotated[str, Form(max_length=1024)] = "",
        next: Annotated[str, Form(max_length=2048)] = "/",
    ) -> Response:
        if not same_origin(request):
            raise ApiError(403, "cross_origin", "this form must be sent from the console itself")
        ip = client_ip(request)
        try:
            guard.check_login(ip, token.strip())
        except ApiError as exc:
            page = login_page(request, pages, next, exc.message.capitalize() + ".", exc.status)
            page.headers.update(exc.headers)
            return page
        if not tokens.valid(token.strip()):
            metrics.console_logins.labels("rejected").inc()
            guard.login_failed(ip)
            return login_page(request, pages, next, "That token is not valid.", 401)
        guard.login_succeeded(ip)
        metrics.console_logins.labels("ok").inc()
        response = RedirectResponse(_safe_next(next), status_code=303)
        response.set_cookie(
            COOKIE,
            token.strip(),
            httponly=True,
            samesite="strict",
            secure=settings.secure_cookie,
            max_age=12 * 3600,
            path="/",
        )
        return response

    @router.post("/logout")
    async def logout(request: Request) -> Response:
        if not same_origin(request):
            raise ApiError(403, "cross_origin", "this form must be sent from the console itself")
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(COOKIE, path="/")
        return response

    @router.get("/", response_class=HTMLResponse)
    async def home(request: Request, q: Annotated[str, Query(max_length=320)] = "") -> HTMLResponse:
        require_admin(request)
        q = q.strip()
        results = await views.search(customers, support.records.steps, q) if len(q) >= 3 else None
        return render(request, "search.html", {"q": q, "results": results})

    @router.get("/customers/{customer_id}", response_class=HTMLResponse)
    async def customer(request: Request, customer_id: str) -> HTMLResponse:
        require_admin(request)
        page = await customer_page.customer_page(
            customers, support.records, customer_id, support.integrations
        )
        return render(request, "customer.html", page)

    @router.get("/failures", response_class=HTMLResponse)
    async def failures(
        request: Request,
        integration: str = "",
        since: str = "",
        until: str = "",
        status: str = "failed",
    ) -> HTMLResponse:
        require_admin(request)
        if integration:
            support.replays.check_integration(integration)
        found = await views.failures(
            support.records.steps, integration or None, _when(since), _when(until), status or None
        )
        return render(
            request,
            "failures.html",
            {
                "failures": found,
                "integration": integration,
                "since": since,
                "until": until,
                "status": status,
                "integrations": support.integrations,
            },
        )

    @router.get("/tickets", response_class=HTMLResponse)
    async def tickets(request: Request) -> HTMLResponse:
        require_admin(request)
        return render(
            request, "tickets.html", {"tickets": await views.tickets(support.records.incidents)}
        )

    @router.post("/replays/confirm", response_class=HTMLResponse)
    async def confirm_replay(request: Request, form: PostedReplayForm) -> HTMLResponse:
        require_form_post(request)
        preview = await run_replay(support, form.replay_request(dry_run=True))
        # The confirmation page posts the same form again, to `/replays`.
        return render(request, "confirm.html", {**asdict(form), "steps": preview.replays})

    @router.post("/replays", response_class=HTMLResponse)
    async def replay(request: Request, form: PostedReplayForm) -> HTMLResponse:
        require_form_post(request)
        answer = await run_replay(support, form.replay_request(dry_run=False))
        return render(
            request,
            "replayed.html",
            {"answer": answer, "integration": form.integration, "back": form.back},
        )

    reconcile_page.add_console_page(router, support, require_admin, render)
    return router


def login_redirect(next_path: str) -> str:
    return f"/login?next={quote(next_path)}"
