"""`python -m sandbox`: serve the stand-ins on SWITCHBOARD_SANDBOX_HOST:PORT (127.0.0.1:8070).

It starts only in local mode (`SWITCHBOARD_ENV=local`, which `make run`, the launcher and the
tests set): the sandbox accepts the local default credentials and answers for every provider, so
it must never run beside a deployment. Writes from a web page are refused (`CrossSiteGuard`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping

import uvicorn
from fastapi import FastAPI

from sandbox.app import create_app
from sandbox.settings import SandboxSettings

ENV_VARIABLE = "SWITCHBOARD_ENV"


def refuse_outside_local_mode(environ: Mapping[str, str]) -> str | None:
    """The message to exit with unless the environment says local mode, else None."""
    value = environ.get(ENV_VARIABLE)
    if value == "local":
        return None
    found = "is not set" if value is None else f"is {value!r}"
    return (
        f"error: the sandbox runs only in local mode, and {ENV_VARIABLE} {found}: "
        f"set {ENV_VARIABLE}=local (make run, the launcher and the tests do). "
        "It stands in for the providers with known credentials; never run it in a deployment."
    )


def build_app(settings: SandboxSettings) -> FastAPI:
    """The app this entry point serves (`create_app` puts it behind its cross-site guard)."""
    return create_app(settings)


def main() -> None:
    refusal = refuse_outside_local_mode(os.environ)
    if refusal is not None:
        raise SystemExit(refusal)
    settings = SandboxSettings()
    # One process on purpose: every record lives in this process's memory.
    uvicorn.run(
        build_app(settings),
        host=settings.sandbox_host,
        port=settings.sandbox_port,
        log_level="info",
        access_log=False,
    )


if __name__ == "__main__":
    main()
