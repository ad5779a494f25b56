"""The sentence the status API shows a buyer (`next_step`): what their lifecycle means, and,
while a step waits on a provider's rate limit, which access is queued and about when. Pure."""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import datetime
from typing import Final

from libs.contracts import Lifecycle

from .canonical import CanonicalCustomer, Step, aware

_NEXT_STEP = {
    Lifecycle.LEAD: "We have not received a payment from this email address yet.",
    Lifecycle.PAID: "Payment received — your community access is being set up.",
    Lifecycle.ACTIVE: "You're all set — your membership is active.",
    Lifecycle.PAST_DUE: "Your last payment failed — please update your payment method to keep "
    "your access.",
    Lifecycle.PAUSED: "Your membership is paused.",
    Lifecycle.CANCELED: "Your membership has ended.",
}


#: what each integration's step gives the buyer, in their words, and whether the words are
#: plural ("are queued"); an integration that is not here (crm) gives them nothing they see
_GRANTS: Final = {
    "circle": ("your community access", False),
    "convertkit": ("your welcome emails", True),
}


def _joined(names: list[str]) -> str:
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


def _expected(expected_at: datetime | None, now: datetime) -> str:
    """'; expected within about 3 minutes' (whole minutes, rounded up), '; expected within a
    minute', '; expected any moment now' for an estimate already past, '' without one."""
    if expected_at is None:
        return ""
    seconds = (aware(expected_at) - aware(now)).total_seconds()
    if seconds <= 0:
        return "; expected any moment now"
    if seconds < 60:
        return "; expected within a minute"
    minutes = math.ceil(seconds / 60)
    return f"; expected within about {minutes} minute{'s' if minutes != 1 else ''}"


def _waiting_text(steps: Mapping[str, Step], now: datetime) -> str | None:
    """Which access the buyer sees is queued behind the provider's rate limit, and about when
    the last of it is expected; None if no such step waits."""
    waiting = [
        (_GRANTS[name], step.expected_at)
        for name, step in steps.items()
        if step.status == "pending" and step.reason == "waiting" and name in _GRANTS
    ]
    if not waiting:
        return None
    names = [what for (what, _), _ in waiting]
    plural = len(waiting) > 1 or waiting[0][0][1]
    estimates = [aware(at) for _, at in waiting if at is not None]
    return (
        f"Payment received — {_joined(names)} {'are' if plural else 'is'} queued behind other "
        f"new members{_expected(max(estimates, default=None), now)}."
    )


def next_step(customer: CanonicalCustomer, steps: Mapping[str, Step], now: datetime) -> str:
    """The sentence the app shows; `steps` are the enabled integrations' (`step_of`), `now` the
    time an estimate is told relative to."""
    if customer.lifecycle is Lifecycle.PAID:
        if customer.needs_support or any(s.status == "failed" for s in steps.values()):
            return (
                "Payment received — setting up your access is taking longer than usual; "
                "our team has been notified and will sort it out."
            )
        if (waiting := _waiting_text(steps, now)) is not None:
            return waiting
    return _NEXT_STEP[customer.lifecycle]
