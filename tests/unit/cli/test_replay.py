"""`switchboard replay` against support's admin API, answered by `httpx.MockTransport`."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import httpx

from libs.runtime.clock import now
from services.cli.main import run
from services.cli.settings import CliSettings

from .conftest import ADMIN_TOKEN, Captured, deps

ANSWER = {
    "queued": 2,
    "dry_run": False,
    "replays": [
        {"event_id": "evt_1", "customer_id": "cus_a", "replay_id": "rpl_1"},
        {"event_id": "evt_2", "customer_id": "cus_b", "replay_id": "rpl_2"},
    ],
}


class Support:
    """Records what the command sent, answers with `status` and `body`."""

    def __init__(self, status: int = 202, body: object = ANSWER) -> None:
        self.status, self.body = status, body
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return httpx.Response(self.status, json=self.body)

    @property
    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self)

    def sent(self) -> dict[str, object]:
        (request,) = self.requests
        body: dict[str, object] = json.loads(request.content)
        return body


async def test_one_event_is_replayed(captured: Captured, settings: CliSettings) -> None:
    support = Support(body={**ANSWER, "queued": 1, "replays": ANSWER["replays"][:1]})  # type: ignore[index]
    code = await run(
        ["replay", "--integration", "circle", "--event-id", "evt_1"],
        deps(captured, settings, transport=support.transport),
    )
    assert code == 0
    (request,) = support.requests
    assert (request.method, str(request.url)) == ("POST", "http://support.test/api/replays")
    assert request.headers["authorization"] == f"Bearer {ADMIN_TOKEN}"
    assert support.sent() == {"integration": "circle", "dry_run": False, "event_id": "evt_1"}
    assert "circle: 1 replay(s) queued" in captured.out
    assert "rpl_1" in captured.out
    assert ADMIN_TOKEN not in captured.out + captured.err


async def test_a_window_ends_now_unless_until_is_given(
    captured: Captured, settings: CliSettings
) -> None:
    support = Support()
    before = now()
    code = await run(
        ["replay", "--integration", "crm", "--since", "2025-03-01T09:00:00Z", "--json"],
        deps(captured, settings, transport=support.transport),
    )
    assert code == 0
    sent = support.sent()
    assert sent["since"] == "2025-03-01T09:00:00+00:00"
    until = datetime.fromisoformat(str(sent["until"]))
    assert before <= until <= now() + timedelta(seconds=1)
    assert json.loads(captured.out.splitlines()[-1]) == ANSWER
    assert len(captured.out.splitlines()) == 1  # the table went to stderr
    assert "crm: 2 replay(s) queued" in captured.err


async def test_a_dry_run_window_with_until_and_no_zone_is_utc(
    captured: Captured, settings: CliSettings
) -> None:
    answer = {"queued": 0, "dry_run": True, "replays": [{"event_id": "e", "customer_id": "c"}]}
    support = Support(body=answer)
    code = await run(
        [
            "replay",
            "--integration",
            "convertkit",
            "--since",
            "2025-03-01",
            "--until",
            "2025-03-02T12:30",
            "--dry-run",
        ],
        deps(captured, settings, transport=support.transport),
    )
    assert code == 0
    assert support.sent() == {
        "integration": "convertkit",
        "dry_run": True,
        "since": datetime(2025, 3, 1, tzinfo=UTC).isoformat(),
        "until": datetime(2025, 3, 2, 12, 30, tzinfo=UTC).isoformat(),
    }
    assert "1 failed step(s) would be replayed (dry run)" in captured.out


async def test_an_api_error_shows_its_code_and_message(
    captured: Captured, settings: CliSettings
) -> None:
    support = Support(
        404, {"error": "step_not_found", "message": "no replayable step for this event"}
    )
    code = await run(
        ["replay", "--integration", "circle", "--event-id", "evt_x"],
        deps(captured, settings, transport=support.transport),
    )
    assert code == 1
    assert (
        "error: support answered 404 step_not_found: no replayable step for this event"
        in captured.err
    )
    assert captured.out == ""


async def test_a_validation_error_lists_the_fields(
    captured: Captured, settings: CliSettings
) -> None:
    body = {
        "error": "invalid_request",
        "message": "the request is not valid",
        "details": [{"field": "body.since", "problem": "Input should be a valid datetime"}],
    }
    support = Support(422, body)
    code = await run(
        ["replay", "--integration", "circle", "--since", "2025-03-01"],
        deps(captured, settings, transport=support.transport),
    )
    assert code == 1
    assert "422 invalid_request" in captured.err
    assert "body.since: Input should be a valid datetime" in captured.err


async def test_a_refused_token_points_at_the_setting(
    captured: Captured, settings: CliSettings
) -> None:
    support = Support(401, {"error": "unauthorized", "message": "a valid admin bearer token"})
    code = await run(
        ["replay", "--integration", "circle", "--event-id", "evt_1"],
        deps(captured, settings, transport=support.transport),
    )
    assert code == 1
    assert "401 unauthorized" in captured.err
    assert "SWITCHBOARD_ADMIN_TOKENS" in captured.err
    assert ADMIN_TOKEN not in captured.err


async def test_support_down_is_named_with_its_setting(
    captured: Captured, settings: CliSettings
) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    code = await run(
        ["replay", "--integration", "circle", "--event-id", "evt_1"],
        deps(captured, settings, transport=httpx.MockTransport(refuse)),
    )
    assert code == 1
    assert (
        "cannot reach support at http://support.test (SWITCHBOARD_SUPPORT_URL): ConnectError"
        in captured.err
    )


async def test_a_missing_admin_token_is_named(captured: Captured) -> None:
    production = CliSettings(env="production", admin_tokens="")
    code = await run(
        ["replay", "--integration", "circle", "--event-id", "evt_1"],
        deps(captured, production, transport=Support().transport),
    )
    assert code == 1
    assert "SWITCHBOARD_ADMIN_TOKENS is not set" in captured.err
