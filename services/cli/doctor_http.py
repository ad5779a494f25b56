"""How the doctor calls a provider: one client for every check, a failure to connect turned
into a sentence, and an error answer shortened to its status and the provider's own message
(never a credential: none of the providers echo one, and Stripe masks its key)."""

from __future__ import annotations

from typing import Any

import httpx


class Unreachable(Exception):
    """The provider could not be asked: no connection, a timeout, a broken answer."""


class Http:
    def __init__(self, timeout: float, transport: httpx.AsyncBaseTransport | None) -> None:
        self.client = httpx.AsyncClient(timeout=timeout, transport=transport)

    async def send(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        try:
            return await self.client.request(method, url, **kwargs)
        except httpx.HTTPError as exc:
            raise Unreachable(f"{type(exc).__name__} calling {_where(url)}") from exc

    async def aclose(self) -> None:
        await self.client.aclose()


def answer(response: httpx.Response) -> str:
    """`401: The API token is invalid.`: the status and the provider's message, one line."""
    message = ""
    try:
        body = response.json()
    except ValueError:
        message = response.text.strip()
    else:
        message = _message(body)
    return f"{response.status_code}: {message[:160]}" if message else str(response.status_code)


def _message(body: Any) -> str:
    if not isinstance(body, dict):
        return ""
    for key in ("message", "error_description", "description"):
        if isinstance(body.get(key), str):
            return str(body[key])
    error = body.get("error")
    if isinstance(error, dict):
        return str(error.get("message") or "")
    errors = body.get("errors")
    if isinstance(errors, list) and errors:
        return str(errors[0])
    return str(error or "")


def json_of(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _where(url: str) -> str:
    parsed = httpx.URL(url)
    return f"{parsed.host}{':' + str(parsed.port) if parsed.port else ''}"
