"""A Zendesk 429 pauses every Zendesk call for the Retry-After it named, within bounds."""

from __future__ import annotations

import pytest

from libs.runtime.errors import error_for_status
from services.support.effects import ZENDESK_PAUSE_MAX_SECONDS, zendesk_pause_seconds


@pytest.mark.parametrize(
    ("retry_after", "pause"),
    [(30.0, 30.0), (None, 10.0), (0.0, 0.0), (3600.0, ZENDESK_PAUSE_MAX_SECONDS)],
)
def test_a_429_pauses_for_its_retry_after(retry_after: float | None, pause: float) -> None:
    error = error_for_status("zendesk", 429, "Too many requests", retry_after=retry_after)
    assert zendesk_pause_seconds(error) == pause


@pytest.mark.parametrize("status", [500, 503, 401, 422])
def test_other_errors_pause_nothing(status: int) -> None:
    assert zendesk_pause_seconds(error_for_status("zendesk", status, "no", retry_after=5)) == 0.0
