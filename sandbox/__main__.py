"""`python -m sandbox`: serve the stand-ins on SWITCHBOARD_SANDBOX_HOST:PORT (127.0.0.1:8070)."""

from __future__ import annotations

import uvicorn

from sandbox.app import create_app
from sandbox.settings import SandboxSettings


def main() -> None:
    settings = SandboxSettings()
    # One process on purpose: every record lives in this process's memory.
    uvicorn.run(
        create_app(settings),
        host=settings.sandbox_host,
        port=settings.sandbox_port,
        log_level="info",
        access_log=False,
    )


if __name__ == "__main__":
    main()
