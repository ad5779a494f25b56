"""Outside local mode, support refuses to start with an admin token shorter than 32 random bytes
(43+ base64url characters, or 64+ hex digits), naming the setting but never the token."""

from __future__ import annotations

import base64
import secrets

import pytest
from pydantic import ValidationError

from libs.runtime.settings import admin_token_is_strong
from services.support.settings import SupportSettings

STRONG_URLSAFE = secrets.token_urlsafe(32)  # 43 characters
STRONG_HEX = secrets.token_hex(32)  # 64 hex digits
STRONG_BASE64 = base64.b64encode(secrets.token_bytes(32)).decode()  # openssl rand -base64 32


def production(admin_tokens: str) -> SupportSettings:
    return SupportSettings(
        env="production",
        kafka_bootstrap_servers="kafka:9092",
        mongodb_uri="mongodb://store:27017",
        zendesk_token="zendesk-token",
        admin_tokens=admin_tokens,
    )


@pytest.mark.parametrize("token", [STRONG_URLSAFE, STRONG_HEX, STRONG_BASE64])
def test_a_token_of_32_random_bytes_is_accepted(token: str) -> None:
    assert admin_token_is_strong(token)
    assert production(token).admin_tokens[0].get_secret_value() == token


@pytest.mark.parametrize(
    "token",
    [
        "short-token",
        secrets.token_urlsafe(31)[:42],  # 42 characters: 252 bits at most
        secrets.token_hex(31),  # 62 hex digits: 248 bits
        secrets.token_hex(24),  # 48 hex digits, though longer than 43
        "a" * 80,  # long, but one character
        "ab" * 40,
    ],
)
def test_a_shorter_or_repetitive_token_is_refused_naming_the_setting(token: str) -> None:
    assert not admin_token_is_strong(token)
    with pytest.raises(ValidationError) as raised:
        production(token)
    message = str(raised.value)
    assert "SWITCHBOARD_ADMIN_TOKENS token 1 of 1 is shorter than 32 random bytes" in message
    assert token not in message


def test_every_token_of_a_roll_is_checked() -> None:
    with pytest.raises(ValidationError, match="token 2 of 2"):
        production(f"{STRONG_URLSAFE},old-short-token")


def test_local_mode_takes_any_token() -> None:
    assert SupportSettings.load(env="local", admin_tokens="x").admin_tokens[0].get_secret_value()
