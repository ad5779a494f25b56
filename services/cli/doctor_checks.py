"""A check's result and the checks that need no network: environment separation of the keys
and secrets (test keys outside production, live ones in it; no local default outside local
mode; nothing shared with the other environment's secrets)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from libs.runtime.local_defaults import LOCAL_DEFAULTS, SECRET_SETTINGS
from libs.runtime.settings import ENV_PREFIX

from .doctor_settings import DoctorSettings


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str
    #: one line saying what to do; empty when the check passed
    fix: str = ""

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def passed(name: str, detail: str) -> Check:
    return Check(name, True, detail)


def failed(name: str, detail: str, fix: str) -> Check:
    return Check(name, False, detail, fix)


def secret_values(settings: DoctorSettings) -> dict[str, set[str]]:
    """Each secret setting's values (a list setting has several), by its variable's name."""
    found: dict[str, set[str]] = {}
    for env_name in SECRET_SETTINGS:
        raw = getattr(settings, env_name.removeprefix(ENV_PREFIX).lower(), None)
        items = raw if isinstance(raw, list) else [raw]
        values = {_plain(v) for v in items} - {""}
        if values:
            found[env_name] = values
    return found


def _plain(value: object) -> str:
    return value.get_secret_value() if isinstance(value, SecretStr) else str(value or "")


def stripe_mode(settings: DoctorSettings) -> Check:
    """Staging (and any other non-production environment) runs on test-mode keys, production
    on live ones; a webhook secret is Stripe's `whsec_` either way."""
    name = "stripe mode"
    key = settings.stripe_api_key.get_secret_value()
    live = settings.env == "production"
    wanted = ("sk_live_", "rk_live_") if live else ("sk_test_", "rk_test_")
    mode = "live" if live else "test"
    if not key:
        return failed(name, "SWITCHBOARD_STRIPE_API_KEY is not set", "set a restricted key")
    if not key.startswith(wanted):
        kind = key.split("_", 2)[1] if key.count("_") >= 2 else "unknown"
        return failed(
            name,
            f"SWITCHBOARD_ENV={settings.env} runs on {mode}-mode keys; this key is {kind}",
            f"use this environment's {mode}-mode restricted key ({wanted[1]}...)",
        )
    secrets = [s.get_secret_value() for s in settings.stripe_webhook_secrets]
    odd = [i for i, s in enumerate(secrets, 1) if not s.startswith("whsec_")]
    if not secrets or odd:
        where = "is not set" if not secrets else f"number {odd} is not a whsec_ secret"
        return failed(
            name,
            f"SWITCHBOARD_STRIPE_WEBHOOK_SECRETS {where}",
            "copy the signing secret of this environment's endpoint from the Stripe dashboard",
        )
    return passed(name, f"{mode}-mode key and whsec_ signing secret(s) for {settings.env}")


def separate_secrets(settings: DoctorSettings) -> Check:
    """Outside local mode no secret may still be its local default, and (with
    SWITCHBOARD_DOCTOR_OTHER_ENV_FILE) none may equal one of the other environment's: a
    credential shared by staging and production lets staging act on production data."""
    name = "secrets per environment"
    ours = secret_values(settings)
    problems: list[str] = []
    if not settings.local:
        defaults = [
            env_name
            for env_name, values in ours.items()
            if values & set(LOCAL_DEFAULTS[env_name].split(","))
        ]
        if defaults:
            problems.append("local development values: " + ", ".join(sorted(defaults)))
    compared = ""
    other_file = settings.doctor_other_env_file
    if other_file is not None:
        try:
            theirs = read_env_file(other_file)
        except OSError as exc:
            return failed(name, f"cannot read {other_file}: {exc.strerror}", "fix the path")
        shared = [
            env_name
            for env_name, values in ours.items()
            if values & set(_split(theirs.get(env_name, "")))
        ]
        if shared:
            problems.append(f"same as in {other_file.name}: " + ", ".join(sorted(shared)))
        compared = f", none shared with {other_file.name}"
    if problems:
        return failed(
            name,
            "; ".join(problems),
            "give this environment its own credentials (new keys/tokens) and roll the shared ones",
        )
    if settings.local:
        return passed(name, "local mode: local development values are expected" + compared)
    return passed(name, f"{len(ours)} secrets, none a local default{compared}")


def read_env_file(path: Path) -> dict[str, str]:
    """`KEY=VALUE` lines (`export ` allowed, `#` comments, optional quotes), as env files
    and Kubernetes secret dumps have them."""
    values: dict[str, str] = {}
    for line in path.read_text().splitlines():
        line = line.strip().removeprefix("export ").strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[key.strip()] = value
    return values


def _split(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()]
