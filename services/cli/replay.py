"""`switchboard replay`: ask support to replay one failed step, or every failed step of an
integration in a time window (`POST /api/replays`), and show what it queued."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from typing import Any

from rich.console import RenderableType

from libs.runtime.clock import now

from .admin_api import AdminApi
from .terminal import Terminal, new_table, plain, titled


def iso_time(text: str) -> datetime:
    """An argparse type: an ISO-8601 time (`2025-03-01T09:00:00Z`, or a date: its midnight).
    One without a zone is UTC, as the API takes it."""
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"not an ISO-8601 time: {text!r} (e.g. 2025-03-01T09:00:00Z)"
        ) from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def replay_body(
    integration: str,
    *,
    event_id: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    dry_run: bool = False,
) -> dict[str, Any]:
    """The API's `ReplayRequest`: one step, or a window that ends now unless `until` is given."""
    body: dict[str, Any] = {"integration": integration, "dry_run": dry_run}
    if event_id is not None:
        body["event_id"] = event_id
    else:
        body["since"] = (since or now()).isoformat()
        body["until"] = (until or now()).isoformat()
    return body


async def run_replay(
    api: AdminApi,
    integration: str,
    *,
    terminal: Terminal,
    event_id: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    dry_run: bool = False,
    as_json: bool = False,
) -> int:
    body = replay_body(integration, event_id=event_id, since=since, until=until, dry_run=dry_run)
    answer: dict[str, Any] = await api.post("/api/replays", body)
    terminal.tables(as_json).print(replay_table(integration, answer))
    if as_json:
        terminal.json_line(answer)
    return 0


def replay_table(integration: str, answer: dict[str, Any]) -> RenderableType:
    replays: list[dict[str, Any]] = answer.get("replays") or []
    dry_run = bool(answer.get("dry_run"))
    if dry_run:
        title = f"{integration}: {len(replays)} failed step(s) would be replayed (dry run)"
        table = new_table("event id", "customer id")
    else:
        title = f"{integration}: {answer.get('queued', len(replays))} replay(s) queued"
        table = new_table("event id", "customer id", "replay id")
    for item in replays:
        row = [plain(item.get("event_id")), plain(item.get("customer_id"))]
        if not dry_run:
            row.append(plain(item.get("replay_id")))
        table.add_row(*row)
    return titled(title, table)
