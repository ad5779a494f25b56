"""The AsyncAPI document of every topic, made by FastStream from the services' own typed
subscribers (topic, consumer group, message schema), never written by hand.

    python -m libs.runtime.asyncapi          # writes docs/asyncapi.json
    python -m libs.runtime.asyncapi --check  # exit 1 if docs/asyncapi.json is stale (make test)

Each service's app is built on local settings (nothing connects until a broker starts) and its
broker handed to FastStream's AsyncAPI factory.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
from pathlib import Path
from typing import Any

from faststream.specification import AsyncAPI

from libs.contracts import INTEGRATIONS

REPO = Path(__file__).resolve().parents[2]
DOCUMENT = REPO / "docs" / "asyncapi.json"
TITLE = "Switchboard"
DESCRIPTION = (
    "Every Kafka topic Switchboard uses, with the consumer groups that read it and the message "
    "each carries. Generated from the services' typed subscribers by "
    "`python -m libs.runtime.asyncapi`; `make test` fails when it is stale."
)


def services() -> list[str]:
    return ["ingest", *(f"{name}_sync" for name in INTEGRATIONS), "support"]


def document() -> dict[str, Any]:
    os.environ.setdefault("SWITCHBOARD_ENV", "local")
    brokers = []
    for service in services():
        app = importlib.import_module(f"services.{service}.main").create_app()
        brokers.append(app.state.broker)
    spec = AsyncAPI(*brokers, title=TITLE, version="1.0.0", description=DESCRIPTION)
    found: dict[str, Any] = json.loads(spec.to_specification().to_json())
    found.pop("servers", None)  # the local bootstrap address: not part of the contract
    for channel in found.get("channels", {}).values():
        channel.pop("servers", None)
    return found


def rendered() -> str:
    return json.dumps(document(), indent=2, sort_keys=True) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="fail if the document is stale")
    args = parser.parse_args(argv)
    text = rendered()
    if args.check:
        if not DOCUMENT.exists() or DOCUMENT.read_text() != text:
            print(f"{DOCUMENT.relative_to(REPO)} is stale: run python -m libs.runtime.asyncapi")
            return 1
        return 0
    DOCUMENT.write_text(text)
    print(f"wrote {DOCUMENT.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
