"""`switchboard doctor` against the sandbox in-process: healthy, every check passes and the
command exits 0; each misconfiguration fails its own check (and exits 1) with a fix."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from services.cli.doctor_settings import DoctorSettings
from services.cli.main import Deps, run

from .conftest import Captured
from .test_doctor_support import (
    CREDENTIALS,
    LIVE_KEY,
    STANDARD_KEY,
    control,
    doctor,
    provision,
    sandbox_app,
    settings,
)


async def test_a_healthy_setup_passes_every_check_and_exits_0() -> None:
    app = sandbox_app()
    await provision(app)
    await control(app, "POST", "/_sandbox/reset?provider=stripe")
    before = (await control(app, "GET", "/_sandbox/state")).json()
    outcome = await doctor(app)
    assert outcome.code == 0, outcome.table
    assert outcome.answer["ok"] is True
    assert outcome.failed() == set()
    assert {"name", "ok", "detail", "fix"} <= set(outcome.answer["checks"][0])
    assert "all 17 checks passed" in outcome.table
    # Only reads, and the one write probe, which the read-only key is refused (403).
    state = (await control(app, "GET", "/_sandbox/state")).json()
    for provider in ("circle", "kit", "hubspot", "zendesk"):
        assert state[provider]["requests"] == before[provider]["requests"]
    assert state["stripe"]["requests"] == {"POST /v1/customers/{id}": 1}


@pytest.mark.parametrize(
    ("setting", "check", "said"),
    [
        ("circle_token", "circle credential", "401: The API token is invalid."),
        ("kit_api_key", "kit credential", "401: The access token is invalid"),
        ("hubspot_token", "hubspot credential", "401: Authentication credentials not found"),
        ("zendesk_token", "zendesk credential", "401: Couldn't authenticate you"),
        ("stripe_api_key", "stripe credential", "401: Invalid API Key provided: rk_test_"),
    ],
)
async def test_a_wrong_credential_fails_its_check_with_the_providers_answer(
    setting: str, check: str, said: str
) -> None:
    app = sandbox_app()
    await provision(app)
    outcome = await doctor(app, settings(**{setting: "rk_test_wrong_value_1234"}))
    assert outcome.code == 1
    assert check in outcome.failed()
    assert outcome.checks[check]["detail"].startswith(said)
    assert outcome.checks[check]["fix"]
    assert "rk_test_wrong_value_1234" not in outcome.table + str(outcome.answer)


async def test_a_wrong_kit_key_leaves_the_tags_unchecked() -> None:
    app = sandbox_app()
    await provision(app)
    outcome = await doctor(app, settings(kit_api_key="another-kit-key"))
    assert outcome.failed() == {"kit credential", "mapping: convertkit tags"}
    assert "not checked" in outcome.checks["mapping: convertkit tags"]["detail"]


async def test_hubspot_scopes_beyond_the_crm_sync_are_named() -> None:
    app = sandbox_app()
    await provision(app)
    scopes = ["crm.objects.contacts.read", "crm.objects.contacts.write", "crm.objects.deals.read"]
    await control(app, "POST", "/_sandbox/doctor", json={"hubspot_scopes": scopes})
    outcome = await doctor(app)
    assert outcome.failed() == {"hubspot scopes"}
    assert "crm.objects.deals.read" in outcome.checks["hubspot scopes"]["detail"]


async def test_a_missing_hubspot_scope_is_named() -> None:
    app = sandbox_app()
    await provision(app)
    await control(
        app, "POST", "/_sandbox/doctor", json={"hubspot_scopes": ["crm.objects.contacts.read"]}
    )
    outcome = await doctor(app)
    assert outcome.failed() == {"hubspot scopes"}
    assert "missing: crm.objects.contacts.write" in outcome.checks["hubspot scopes"]["detail"]


async def test_a_missing_kit_tag_and_circle_group_of_the_mapping_fail(tmp_path: Path) -> None:
    mapping = tmp_path / "mapping.yaml"
    mapping.write_text(
        "circle:\n  default:\n    paid: [Members, VIP]\n"
        "convertkit:\n  default:\n    paid: [customer]\n    canceled: [churned]\n"
    )
    app = sandbox_app()
    await provision(app, skip=("churned",))
    outcome = await doctor(app, settings(mapping_file=mapping))
    assert outcome.failed() == {"mapping: circle access groups", "mapping: convertkit tags"}
    assert outcome.checks["mapping: circle access groups"]["detail"].endswith(": VIP")
    assert outcome.checks["mapping: convertkit tags"]["detail"].endswith(": churned")


async def test_a_broken_mapping_file_fails_with_where(tmp_path: Path) -> None:
    app = sandbox_app()
    await provision(app)
    outcome = await doctor(app, settings(mapping_file=tmp_path / "nowhere.yaml"))
    assert outcome.failed() == {"mapping: circle", "mapping: convertkit"}
    assert "does not exist" in outcome.checks["mapping: circle"]["detail"]


async def test_a_secret_shared_with_the_other_environment_is_named_never_shown(
    tmp_path: Path,
) -> None:
    other = tmp_path / "production.env"
    other.write_text(
        "# production\nexport SWITCHBOARD_KIT_API_KEY='unit-kit-key'\n"
        "SWITCHBOARD_CIRCLE_TOKEN=production-circle\n"
    )
    app = sandbox_app()
    await provision(app)
    outcome = await doctor(app, settings(doctor_other_env_file=other))
    assert outcome.failed() == {"secrets per environment"}
    detail = outcome.checks["secrets per environment"]["detail"]
    assert "SWITCHBOARD_KIT_API_KEY" in detail
    assert "CIRCLE" not in detail
    assert CREDENTIALS["kit_api_key"] not in outcome.table


async def test_local_defaults_outside_local_mode_fail() -> None:
    app = sandbox_app(circle_token="local-circle-token")
    await provision(app)
    outcome = await doctor(app, settings(circle_token="local-circle-token"))
    assert outcome.failed() == {"secrets per environment"}
    assert "SWITCHBOARD_CIRCLE_TOKEN" in outcome.checks["secrets per environment"]["detail"]


async def test_the_command_line_runs_the_doctor_and_exits_1_on_a_failed_check(
    captured: Captured,
) -> None:
    app = sandbox_app()
    config: DoctorSettings = settings(kafka_bootstrap_servers="", mongodb_uri="")
    deps = Deps(terminal=captured.terminal, settings=config, transport=httpx.ASGITransport(app))
    assert await run(["doctor", "--json"], deps) == 1
    failed = {c["name"] for c in __import__("json").loads(captured.out)["checks"] if not c["ok"]}
    assert {"kafka", "kafka topics", "consumer lag", "store"} <= failed
    assert "not set" in captured.err


async def test_a_production_run_wants_live_keys() -> None:
    app = sandbox_app()
    await provision(app)
    outcome = await doctor(app, settings(env="production"))
    assert "stripe mode" in outcome.failed()
    assert "live-mode" in outcome.checks["stripe mode"]["fix"]


async def test_a_live_key_in_staging_fails_and_a_standard_key_is_not_least_privilege() -> None:
    app = sandbox_app()
    await provision(app)
    live = await doctor(app, settings(stripe_api_key=LIVE_KEY))
    assert live.failed() == {"stripe mode"}
    standard = await doctor(app, settings(stripe_api_key=STANDARD_KEY))
    assert standard.failed() == {"stripe key privilege"}
    assert "sk_" in standard.checks["stripe key privilege"]["detail"]
