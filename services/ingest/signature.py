"""Stripe webhook signature verification, on the raw bytes. Pure: the clock is passed in.

Header: `t=<unix>,v1=<hex>[,v1=<hex>...][,v0=<hex>]`. Only `v1` counts (`v0` is Stripe's fake
test-mode scheme, and accepting it would allow a downgrade). Several `v1` values and several
secrets are both normal while a secret is rolled: any match is enough.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Sequence
from typing import Final

DEFAULT_TOLERANCE_SECONDS: Final = 300
_TIMESTAMP: Final = re.compile(r"[0-9]{1,12}")


class SignatureError(Exception):
    """Why a signature was refused. `code` is stable: clients and dashboards key on it."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def compute_signature(payload: bytes, secret: str, timestamp: int) -> str:
    signed = str(timestamp).encode() + b"." + payload
    return hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def parse_header(header: str | None) -> tuple[int, list[str]]:
    if not header or not header.strip():
        raise SignatureError("signature_missing", "the Stripe-Signature header is missing")
    timestamp: int | None = None
    v1: list[str] = []
    for item in header.split(","):
        key, sep, value = item.strip().partition("=")
        if not sep:
            raise SignatureError("signature_malformed", "the Stripe-Signature header is malformed")
        if key == "t":
            # ASCII digits only, bounded: str.isdigit() accepts "²", and int() refuses huge inputs.
            if not _TIMESTAMP.fullmatch(value):
                raise SignatureError(
                    "signature_malformed", "the signature timestamp is not a number"
                )
            timestamp = int(value)
        elif key == "v1":
            v1.append(value)
    if timestamp is None:
        raise SignatureError("signature_malformed", "the Stripe-Signature header has no timestamp")
    if not v1:
        raise SignatureError("signature_no_v1", "no signature with the v1 scheme was found")
    return timestamp, v1


def verify_signature(
    payload: bytes,
    header: str | None,
    secrets: Sequence[str],
    *,
    now: int,
    tolerance: int = DEFAULT_TOLERANCE_SECONDS,
) -> int:
    """Return the signed timestamp, or raise `SignatureError` saying exactly what was wrong."""
    timestamp, signatures = parse_header(header)
    expected = [compute_signature(payload, secret, timestamp) for secret in secrets]
    # Compare every pair, so the time taken does not tell which secret or position matched.
    matched = False
    for candidate in signatures:
        for good in expected:
            matched |= hmac.compare_digest(candidate.encode(), good.encode())
    if not matched:
        raise SignatureError(
            "signature_mismatch", "no signature matches the payload for any configured secret"
        )
    if timestamp < now - tolerance:
        raise SignatureError("timestamp_too_old", f"the signature is older than {tolerance} s")
    if timestamp > now + tolerance:
        raise SignatureError(
            "timestamp_in_future", f"the signature is more than {tolerance} s in the future"
        )
    return timestamp
