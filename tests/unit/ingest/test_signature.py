from __future__ import annotations

import hashlib
import hmac

import pytest

from services.ingest.signature import SignatureError, verify_signature

BODY = b'{"id":"evt_1","object":"event"}'
SECRET = "whsec_test_secret"
NOW = 1_800_000_000


def sign(body: bytes, secret: str, t: int) -> str:
    # Independent of the code under test: Stripe's documented scheme.
    return hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()


def header(t: int = NOW, *sigs: str) -> str:
    parts = [f"t={t}"] + [f"v1={s}" for s in (sigs or (sign(BODY, SECRET, t),))]
    return ",".join(parts)


def code(body: bytes, hdr: str | None, secrets: list[str] | None = None, now: int = NOW) -> str:
    with pytest.raises(SignatureError) as info:
        verify_signature(body, hdr, secrets or [SECRET], now=now)
    return info.value.code


def test_a_valid_signature_passes() -> None:
    assert verify_signature(BODY, header(), [SECRET], now=NOW) == NOW


def test_any_of_several_v1_signatures_passes_during_a_secret_roll() -> None:
    hdr = header(NOW, sign(BODY, "whsec_old", NOW), sign(BODY, SECRET, NOW))
    assert verify_signature(BODY, hdr, [SECRET], now=NOW) == NOW


def test_any_of_several_configured_secrets_passes() -> None:
    assert verify_signature(BODY, header(), ["whsec_new", SECRET], now=NOW) == NOW


def test_v0_is_ignored_even_when_it_would_match() -> None:
    hdr = f"t={NOW},v0={sign(BODY, SECRET, NOW)}"
    assert code(BODY, hdr) == "signature_no_v1"


@pytest.mark.parametrize(
    ("hdr", "expected"),
    [
        (None, "signature_missing"),
        ("", "signature_missing"),
        ("garbage", "signature_malformed"),
        (f"v1={'0' * 64}", "signature_malformed"),
        ("t=abc,v1=00", "signature_malformed"),
        (f"t={NOW}", "signature_no_v1"),
        (f"t={NOW},v1={'0' * 64}", "signature_mismatch"),
    ],
)
def test_each_kind_of_failure_has_its_own_code(hdr: str | None, expected: str) -> None:
    assert code(BODY, hdr) == expected


def test_a_changed_body_does_not_verify() -> None:
    assert code(BODY + b" ", header()) == "signature_mismatch"


def test_the_wrong_secret_does_not_verify() -> None:
    assert code(BODY, header(), ["whsec_other"]) == "signature_mismatch"


def test_too_old_and_too_far_in_the_future_are_refused() -> None:
    old, future = NOW - 301, NOW + 301
    assert code(BODY, header(old, sign(BODY, SECRET, old))) == "timestamp_too_old"
    assert code(BODY, header(future, sign(BODY, SECRET, future))) == "timestamp_in_future"


def test_the_tolerance_edges_pass() -> None:
    for t in (NOW - 300, NOW + 300):
        assert verify_signature(BODY, header(t, sign(BODY, SECRET, t)), [SECRET], now=NOW) == t


@pytest.mark.parametrize("t", ["\u00b2", "1" * 4301, "-5", " 5"])
def test_a_timestamp_that_is_not_plain_digits_is_malformed(t: str) -> None:
    assert code(BODY, f"t={t},v1={'0' * 64}") == "signature_malformed"
