"""The test-control API under `/_sandbox`: read the state, inject and clear faults, change the
lags of the eventually consistent reads, reset.

No auth: it is a development tool, and the sandbox binds to 127.0.0.1 only.
"""

from __future__ import annotations

from typing import TypeVar

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import BaseModel, ValidationError

from sandbox.faults import FaultRequest
from sandbox.guard import sandbox_of
from sandbox.http import ReplyNow, reply
from sandbox.state import PROVIDERS

router = APIRouter(prefix="/_sandbox")
ModelT = TypeVar("ModelT", bound=BaseModel)


def error(code: str, message: str, status: int = 422) -> Response:
    """Errors of the control API: a stable code and a human message, like every surface here."""
    return reply({"error": code, "message": message}, status)


def describe(exc: ValidationError) -> str:
    """One readable line per problem, e.g. `status: Input should be less than or equal to 599`."""
    parts = []
    for problem in exc.errors():
        where = ".".join(str(p) for p in problem["loc"])
        message = str(problem["msg"]).removeprefix("Value error, ")
        parts.append(f"{where}: {message}" if where else message)
    return "; ".join(parts)


async def parsed(request: Request, model: type[ModelT], code: str) -> ModelT:
    """The JSON body (none is `{}`) as `model`; anything else is answered with a 422 `code`."""
    try:
        return model.model_validate_json(await request.body() or b"{}")
    except ValidationError as exc:
        raise ReplyNow(error(code, describe(exc))) from exc


async def patched(request: Request, current: ModelT, code: str) -> ModelT:
    """`current` with the fields the JSON body gives (the others stay); 422 `code` if bad."""
    update = await parsed(request, type(current), code)
    merged = current.model_dump() | update.model_dump(exclude_unset=True)
    return type(current).model_validate(merged)


def _provider_param(request: Request) -> str | None:
    provider = request.query_params.get("provider")
    if provider is not None and provider not in PROVIDERS:
        message = f"provider must be one of {', '.join(PROVIDERS)}"
        raise ReplyNow(error("unknown_provider", message))
    return provider


@router.get("/state")
async def get_state(request: Request) -> Response:
    return reply(sandbox_of(request).snapshot())


@router.get("/faults")
async def list_faults(request: Request) -> Response:
    return reply({"faults": [f.as_json() for f in sandbox_of(request).faults.active]})


@router.post("/faults")
async def add_fault(request: Request) -> Response:
    spec = await parsed(request, FaultRequest, "invalid_fault")
    fault = sandbox_of(request).faults.add(spec)
    return reply({"fault": fault.as_json()}, 201)


@router.delete("/faults")
async def clear_faults(request: Request) -> Response:
    provider = _provider_param(request)
    return reply({"cleared": sandbox_of(request).faults.clear(provider)})


@router.get("/consistency")
async def get_consistency(request: Request) -> Response:
    return reply(sandbox_of(request).consistency.model_dump())


@router.put("/consistency")
async def set_consistency(request: Request) -> Response:
    """Change the lags given (seconds, 0 to 3600); the others stay. Reset restores both."""
    sandbox = sandbox_of(request)
    sandbox.consistency = await patched(request, sandbox.consistency, "invalid_consistency")
    return reply(sandbox.consistency.model_dump())


@router.post("/reset")
async def reset(request: Request) -> Response:
    provider = _provider_param(request)
    sandbox_of(request).reset(provider)
    return reply({"reset": provider or "all"})
