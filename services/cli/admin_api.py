"""support's admin API (`/api`, bearer admin token), as `replay` and `status` use it. Every way
a call can go wrong becomes a `CliError` the user can act on: the API's own `error` code and
message for a 4xx/5xx, or where the command tried to reach support. The token is sent, never
shown."""

from __future__ import annotations

from types import TracebackType
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx

from libs.runtime.settings import ENV_PREFIX

from .errors import CliError
from .settings import LOCAL_HINT


class ApiProblem(CliError):
    """support answered with an error; `status` and `code` let a command word a known one."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.error_code = status, code


class AdminApi:
    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        timeout: float = 10.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.where = safe_url(base_url)
        self.timeout = timeout
        self.client = httpx.AsyncClient(
            base_url=base_url.rstrip("/"),
            headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
            timeout=timeout,
            transport=transport,
        )

    async def __aenter__(self) -> AdminApi:
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        await self.client.aclose()

    async def get(self, path: str, params: dict[str, str] | None = None) -> Any:
        return await self._call("GET", path, params=params)

    async def post(self, path: str, body: dict[str, Any]) -> Any:
        return await self._call("POST", path, json=body)

    async def _call(self, method: str, path: str, **request: Any) -> Any:
        try:
            response = await self.client.request(method, path, **request)
        except httpx.TimeoutException:
            raise CliError(
                f"support at {self.where} did not answer within {self.timeout:g} s"
            ) from None
        except httpx.HTTPError as exc:  # refused, DNS, TLS, dropped: all "cannot reach"
            raise CliError(
                f"cannot reach support at {self.where} ({ENV_PREFIX}SUPPORT_URL): "
                f"{type(exc).__name__}; is support running (make run)?"
            ) from None
        if response.status_code >= 400:
            raise problem(response)
        try:
            return response.json()
        except ValueError:
            raise CliError(
                f"support at {self.where} answered {response.status_code} with a body that is "
                "not JSON; is SWITCHBOARD_SUPPORT_URL support's address?"
            ) from None


def problem(response: httpx.Response) -> ApiProblem:
    """The API's `{"error": code, "message": ..., "details": [...]}` as one readable line."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        body = {}
    code = str(body.get("error") or "http_error")
    message = str(body.get("message") or response.reason_phrase or "no message")
    details = body.get("details")
    if isinstance(details, list) and details:
        listed = "; ".join(
            f"{d.get('field')}: {d.get('problem')}" for d in details if isinstance(d, dict)
        )
        message += f" ({listed})"
    text = f"support answered {response.status_code} {code}: {message}"
    if response.status_code == 401:
        text += f"; check {ENV_PREFIX}ADMIN_TOKENS {LOCAL_HINT}"
    return ApiProblem(response.status_code, code, text)


def safe_url(url: str) -> str:
    """The address without any user and password in it, to show in messages."""
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit((parts.scheme, host, parts.path, "", "")).rstrip("/") or "?"
