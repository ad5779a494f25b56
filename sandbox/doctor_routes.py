"""`/_sandbox/doctor`: `POST` changes the account settings `switchboard doctor` reads (the
fields given; see `doctor.DoctorConfig`), `DELETE` restores the healthy defaults, `GET` shows
them."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from sandbox.control import patched
from sandbox.doctor import DoctorConfig
from sandbox.guard import sandbox_of
from sandbox.http import reply

router = APIRouter(prefix="/_sandbox")


@router.get("/doctor")
async def show(request: Request) -> Response:
    return reply(sandbox_of(request).doctor.model_dump())


@router.post("/doctor")
async def change(request: Request) -> Response:
    sandbox = sandbox_of(request)
    sandbox.doctor = await patched(request, sandbox.doctor, "invalid_doctor_config")
    return reply(sandbox.doctor.model_dump())


@router.delete("/doctor")
async def restore(request: Request) -> Response:
    sandbox_of(request).doctor = DoctorConfig()
    return reply(sandbox_of(request).doctor.model_dump())
