"""The command line itself: what argparse refuses (exit 2), help (exit 0), and settings."""

from __future__ import annotations

import pytest

from libs.runtime.local_defaults import LOCAL_DEFAULTS
from services.cli.main import build_parser, main, run
from services.cli.settings import CliSettings, load_settings, store_hosts

from .conftest import Captured, deps


@pytest.mark.parametrize(
    ("argv", "complaint"),
    [
        ([], "required: COMMAND"),
        (["sweep"], "invalid choice"),
        (["reconcile", "--integration", "zendesk"], "invalid choice"),
        (["reconcile", "--timeout", "0"], "more than 0 seconds"),
        (["reconcile", "--start-timeout", "soon"], "not a number of seconds"),
        (["replay", "--integration", "circle"], "one of the arguments --event-id --since"),
        (["replay", "--event-id", "evt_1"], "--integration"),
        (
            ["replay", "--integration", "circle", "--event-id", "e", "--since", "2025-01-01"],
            "not allowed with",
        ),
        (
            ["replay", "--integration", "circle", "--event-id", "e", "--until", "2025-01-01"],
            "--until needs --since",
        ),
        (["replay", "--integration", "circle", "--since", "last week"], "not an ISO-8601 time"),
        (["status"], "email"),
    ],
)
async def test_a_command_line_argparse_refuses_exits_2(
    argv: list[str],
    complaint: str,
    captured: Captured,
    settings: CliSettings,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert await run(argv, deps(captured, settings)) == 2
    assert complaint in capsys.readouterr().err


async def test_help_exits_0(captured: Captured, settings: CliSettings) -> None:
    assert await run(["--help"], deps(captured, settings)) == 0


def test_the_defaults() -> None:
    args = build_parser().parse_args(["reconcile"])
    assert (args.integration, args.dry_run, args.as_json, args.local) == (None, False, False, False)
    assert (args.timeout, args.start_timeout) == (1800.0, 30.0)


def test_local_fills_unset_settings_and_the_environment_still_wins(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in (*LOCAL_DEFAULTS, "SWITCHBOARD_ENV", "SWITCHBOARD_SUPPORT_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SWITCHBOARD_SUPPORT_URL", "http://127.0.0.1:18081")
    local = load_settings(local=True)
    assert local.require_mongodb_uri() == LOCAL_DEFAULTS["SWITCHBOARD_MONGODB_URI"]
    assert local.require_admin_token() == LOCAL_DEFAULTS["SWITCHBOARD_ADMIN_TOKENS"]
    assert local.support_url == "http://127.0.0.1:18081"
    # without --local (and without SWITCHBOARD_ENV=local) nothing is filled in, as for the
    # services; but a client needs no Kafka, so loading alone is not refused
    production = load_settings(local=False)
    assert production.mongodb_uri.get_secret_value() == ""
    assert production.admin_tokens == []


def test_switchboard_env_local_works_like_the_flag(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SWITCHBOARD_MONGODB_URI", raising=False)
    monkeypatch.setenv("SWITCHBOARD_ENV", "local")
    assert load_settings(local=False).local


def test_the_first_admin_token_is_sent(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SWITCHBOARD_ADMIN_TOKENS", "new-token, old-token")
    assert load_settings(local=False).require_admin_token() == "new-token"


def test_store_hosts_drop_the_credentials() -> None:
    assert store_hosts("mongodb://u:p@db-0:27017,db-1:27017/x?tls=true") == "db-0:27017,db-1:27017"
    assert store_hosts("mongodb+srv://cluster0.example.net/") == "cluster0.example.net"


def test_main_is_the_console_script(monkeypatch: pytest.MonkeyPatch) -> None:
    """`main` returns the exit code the generated script passes to `sys.exit`."""
    assert main(["reconcile", "--integration", "nope"]) == 2
