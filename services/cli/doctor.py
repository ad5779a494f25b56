"""`switchboard doctor`: the first hour of triage in one command. Every credential against its
provider, least privilege, environment separation, Stripe's webhook endpoints, Kafka, the store,
topics, lag and the mapping against the providers, each ✓ or ✗ with a one-line fix; exit 1 when
any check failed. Checks only read (the one Stripe write probe is refused or finds nothing)."""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

import httpx

from . import doctor_providers as providers
from .doctor_checks import Check, separate_secrets, stripe_mode
from .doctor_http import Http
from .doctor_infra import Infra, RealInfra
from .doctor_settings import DoctorSettings, load_doctor_settings
from .doctor_stripe import stripe
from .doctor_view import show
from .errors import FAILED
from .settings import CliSettings
from .terminal import Terminal


async def run_doctor(
    settings: DoctorSettings,
    *,
    terminal: Terminal,
    as_json: bool = False,
    transport: httpx.AsyncBaseTransport | None = None,
    infra: Infra | None = None,
) -> int:
    checks = await all_checks(settings, transport=transport, infra=infra or RealInfra())
    show(checks, terminal, as_json=as_json)
    return 0 if all(c.ok for c in checks) else FAILED


async def all_checks(
    settings: DoctorSettings,
    *,
    transport: httpx.AsyncBaseTransport | None,
    infra: Infra,
) -> list[Check]:
    """Every check, asked at once (each provider in turn within itself), in a fixed order."""
    http = Http(settings.http_timeout_seconds, transport)
    try:
        circle, kit, hubspot, zendesk, stripe_checks, kafka, store = await asyncio.gather(
            providers.circle(http, settings),
            providers.kit(http, settings),
            providers.hubspot(http, settings),
            providers.zendesk(http, settings),
            stripe(http, settings),
            infra.kafka(settings),
            infra.store(settings),
        )
    finally:
        await http.aclose()
    # The mapping checks (second of Circle's and Kit's) go last, beside each other.
    return [
        circle[0],
        kit[0],
        *hubspot,
        *zendesk,
        *stripe_checks[:2],
        stripe_mode(settings),
        *stripe_checks[2:],
        separate_secrets(settings),
        *kafka,
        *store,
        *circle[1:],
        *kit[1:],
    ]


def add_doctor_parser(commands: Any, common: argparse.ArgumentParser) -> None:
    commands.add_parser(
        "doctor",
        parents=[common],
        help="check credentials, scopes, environment separation, Stripe, Kafka and the store",
        description="Every check ✓ or ✗ with a one-line fix: each credential against its "
        "provider, least privilege, test/live separation, the Stripe webhook endpoint "
        "(SWITCHBOARD_PUBLIC_INGEST_URL), Kafka, topics, lag, the store and the mapping file "
        "against the providers. Exit 1 when any check failed.",
    )


async def doctor_from_args(
    args: argparse.Namespace,
    settings: CliSettings,
    *,
    terminal: Terminal,
    transport: httpx.AsyncBaseTransport | None = None,
) -> int:
    # The doctor reads every credential, which the other subcommands' settings leave out.
    if not isinstance(settings, DoctorSettings):
        settings = load_doctor_settings(local=args.local)
    return await run_doctor(settings, terminal=terminal, as_json=args.as_json, transport=transport)
