"""Small request helpers shared by the stand-ins.

Routers parse bodies and parameters by hand instead of through FastAPI models, so a malformed
request gets the provider's own error body rather than FastAPI's `{"detail": ...}`.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse, Response


async def json_body(request: Request) -> dict[str, Any] | None:
    """The body as a JSON object, or None if it is empty, not JSON, or not an object."""
    raw = await request.body()
    if not raw.strip():
        return None
    try:
        body = json.loads(raw)
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


def as_int(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def as_bool(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in {"1", "true", "yes", "on"}
    return bool(value)


class ReplyNow(Exception):
    """Stops a request with a ready response: raised from a dependency or a route, and answered
    with `response` by the app's handler."""

    def __init__(self, response: Response) -> None:
        super().__init__(response.status_code)
        self.response = response


def reply(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(body, status_code=status, headers=headers)
