"""A Stripe webhook delivery: the body bytes as Stripe sends them, and the `Stripe-Signature`
header that signs them (what the trigger, the end-to-end tests and the benchmarks post)."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Sequence

from sandbox.stripe.objects import Obj


def encode(payload: Obj) -> bytes:
    """The body bytes as Stripe sends them: pretty-printed JSON, so a verifier that re-serializes
    instead of hashing the raw bytes fails as it would in production."""
    return json.dumps(payload, indent=2).encode("utf-8")


def sign(
    payload: bytes,
    secret: str | Sequence[str],
    timestamp: int,
    *,
    v0_secret: str | None = None,
) -> str:
    """The `Stripe-Signature` header value: `t=<timestamp>,v1=<hex>[,v1=<hex>...][,v0=<hex>]`.

    One `v1` per secret, as during a secret roll. `v0_secret` adds a `v0` entry (Stripe's
    test-mode scheme, which verifiers must ignore); signing the v0 with the right secret and the
    v1 with a wrong one tests that a verifier cannot be downgraded.
    """
    secrets = [secret] if isinstance(secret, str) else list(secret)
    parts = [f"t={timestamp}", *(f"v1={_hmac(payload, s, timestamp)}" for s in secrets)]
    if v0_secret is not None:
        parts.append(f"v0={_hmac(payload, v0_secret, timestamp)}")
    return ",".join(parts)


def _hmac(payload: bytes, secret: str, timestamp: int) -> str:
    signed = f"{timestamp}.".encode() + payload
    return hmac.new(secret.encode("utf-8"), signed, hashlib.sha256).hexdigest()
