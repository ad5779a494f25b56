"""`switchboard reconcile` on the in-memory sweeps store, with fake workers taking the
requests: the JSON contract line, exit codes, and a request nobody takes."""

from __future__ import annotations

import asyncio
import io
import json

import pytest
from pymongo.errors import OperationFailure, ServerSelectionTimeoutError
from rich.console import Console

from libs.reconcile.records import DriftKind, SweepRecord, SweepState
from libs.reconcile.store import InMemorySweepStore
from services.cli.follow import NOBODY_TOOK_IT, WITHDRAWN, follow_sweeps
from services.cli.main import run
from services.cli.reconcile import ReconcileOptions, run_reconcile, store_problem
from services.cli.settings import CliSettings

from .conftest import Captured, deps, fake_worker, finding

FAST = ReconcileOptions(start_timeout=1.0, timeout=5.0, poll_seconds=0.005)
KINDS = [kind.value for kind in DriftKind]


def last_json(text: str) -> dict[str, dict[str, object]]:
    lines = text.splitlines()
    assert lines, "nothing on stdout"
    value: dict[str, dict[str, object]] = json.loads(lines[-1])
    return value


async def test_all_three_are_requested_at_once_and_the_last_line_is_the_contract(
    captured: Captured,
) -> None:
    store = InMemorySweepStore()
    drift = (
        finding("a@example.com", DriftKind.MISSING_ACCESS),
        finding("b@example.com", DriftKind.UNKNOWN_PERSON, outcome="reported"),
    )
    workers = [
        asyncio.create_task(fake_worker(store, "circle", findings=drift)),
        asyncio.create_task(fake_worker(store, "convertkit")),
        asyncio.create_task(fake_worker(store, "crm")),
    ]
    code = await run_reconcile(
        store,
        ["circle", "convertkit", "crm"],
        terminal=captured.terminal,
        options=ReconcileOptions(**{**FAST.__dict__, "as_json": True}),
    )
    await asyncio.gather(*workers)

    assert code == 0  # drift is not an error
    assert len(captured.out.splitlines()) == 1  # --json keeps stdout to the one line
    answer = last_json(captured.out)
    assert list(answer) == ["circle", "convertkit", "crm"]
    circle = answer["circle"]
    assert set(circle) == {"checked", "found", "repaired", "reported", "calls", "seconds"}
    assert circle["found"] == {**dict.fromkeys(KINDS, 0), "missing_access": 1, "unknown_person": 1}
    assert (circle["checked"], circle["repaired"], circle["reported"], circle["calls"]) == (
        10,
        1,
        1,
        3,
    )
    assert answer["crm"]["found"] == dict.fromkeys(KINDS, 0)
    # the tables and findings went to stderr
    assert "Reconcile" in captured.err
    assert "a@example.com" in captured.err
    requests = list(store.records.values())
    assert {r.requested_by for r in requests} == {"cli"}
    assert all(r.state is SweepState.DONE for r in requests)


async def test_without_json_the_table_is_on_stdout(captured: Captured) -> None:
    store = InMemorySweepStore()
    worker = asyncio.create_task(fake_worker(store, "crm"))
    code = await run_reconcile(store, ["crm"], terminal=captured.terminal, options=FAST)
    await worker
    assert code == 0
    assert "Reconcile" in captured.out
    assert "crm" in captured.out
    assert not captured.out.lstrip().startswith("{")


async def test_dry_run_is_asked_for_and_said(captured: Captured) -> None:
    store = InMemorySweepStore()
    worker = asyncio.create_task(fake_worker(store, "circle"))
    options = ReconcileOptions(**{**FAST.__dict__, "dry_run": True})
    assert await run_reconcile(store, ["circle"], terminal=captured.terminal, options=options) == 0
    record = await worker
    assert record.dry_run is True
    assert "dry run" in captured.out


@pytest.mark.parametrize(
    ("state", "reason", "said"),
    [
        (SweepState.FAILED, "Circle answered 500 three times", "the circle sweep failed"),
        (SweepState.SKIPPED, "the integration is off", "the circle sweep was skipped"),
    ],
)
async def test_a_failed_or_skipped_sweep_exits_1_with_its_reason(
    captured: Captured, state: SweepState, reason: str, said: str
) -> None:
    store = InMemorySweepStore()
    workers = [
        asyncio.create_task(fake_worker(store, "circle", state=state, reason=reason)),
        asyncio.create_task(fake_worker(store, "crm")),
    ]
    options = ReconcileOptions(**{**FAST.__dict__, "as_json": True})
    code = await run_reconcile(
        store, ["circle", "crm"], terminal=captured.terminal, options=options
    )
    await asyncio.gather(*workers)
    assert code == 1
    assert said in captured.err
    assert reason in captured.err
    # the line still answers for the sweeps that finished, and only for those
    assert list(last_json(captured.out)) == ["crm"]


async def test_a_request_nobody_takes_is_closed_so_no_late_worker_runs_it(
    captured: Captured,
) -> None:
    store = InMemorySweepStore()
    options = ReconcileOptions(start_timeout=0.05, timeout=5.0, poll_seconds=0.005)
    code = await run_reconcile(store, ["convertkit"], terminal=captured.terminal, options=options)

    assert code == 1
    assert (
        "no convertkit worker took the sweep within 0.05 s; is convertkit_sync running "
        "(make run)?" in captured.err
    )
    (record,) = store.records.values()
    assert record.state is SweepState.FAILED
    assert record.reason == NOBODY_TOOK_IT
    assert record.finished_at is not None
    assert await store.next_requested("convertkit") is None  # a worker starting now skips it


async def test_a_worker_that_takes_the_request_at_the_deadline_is_followed() -> None:
    """The command closes an untaken request with the workers' own compare-and-set; when a
    worker won it, the command follows that sweep instead."""

    class LateWorkerStore(InMemorySweepStore):
        async def start(self, sweep_id: str, owner: str) -> SweepRecord | None:
            if owner == "cli":  # a worker got there first, just before the command
                await super().start(sweep_id, "circle-worker-1")
                asyncio.get_running_loop().call_later(0.02, self._finish, sweep_id)
            return await super().start(sweep_id, owner)

        def _finish(self, sweep_id: str) -> None:
            record = self.records[sweep_id]
            self.records[sweep_id] = record.model_copy(update={"state": SweepState.DONE})

    store = LateWorkerStore()
    (followed,) = await follow_sweeps(
        store, ["circle"], dry_run=False, start_timeout=0.02, poll_seconds=0.005
    )
    assert followed.ok
    assert followed.record.owner == "circle-worker-1"


async def test_a_sweep_that_outlives_the_timeout_is_left_to_its_worker(
    captured: Captured,
) -> None:
    store = InMemorySweepStore()
    worker = asyncio.create_task(fake_worker(store, "crm", run_for=0.5))
    options = ReconcileOptions(start_timeout=1.0, timeout=0.1, poll_seconds=0.005)
    code = await run_reconcile(store, ["crm"], terminal=captured.terminal, options=options)
    assert code == 1
    assert "the crm sweep did not finish within 0.1 s; it goes on in the worker" in captured.err
    (record,) = store.records.values()
    assert record.state is SweepState.RUNNING  # not touched: the worker owns it
    await worker


async def test_findings_are_capped_with_a_count_of_the_rest(captured: Captured) -> None:
    store = InMemorySweepStore()
    many = tuple(finding(f"p{i}@example.com", DriftKind.STALE_TAG) for i in range(25))
    worker = asyncio.create_task(fake_worker(store, "convertkit", findings=many))
    assert await run_reconcile(store, ["convertkit"], terminal=captured.terminal, options=FAST) == 0
    await worker
    assert "p19@example.com" in captured.out
    assert "p20@example.com" not in captured.out
    assert "and 5 more" in captured.out


async def test_progress_without_a_terminal_is_a_few_plain_lines(captured: Captured) -> None:
    store = InMemorySweepStore()
    worker = asyncio.create_task(fake_worker(store, "circle", run_for=0.05))
    assert await run_reconcile(store, ["circle"], terminal=captured.terminal, options=FAST) == 0
    await worker
    lines = [line for line in captured.err.splitlines() if line.startswith("circle:")]
    assert lines[0] == "circle: requested"
    assert lines[-1].startswith("circle: done")
    assert len(lines) <= 4  # one per state or phase change, not one per poll
    assert "\x1b[" not in captured.err  # no redraw codes in a log


async def test_progress_on_a_terminal_draws_bars(captured: Captured) -> None:
    store = InMemorySweepStore()
    terminal = captured.terminal
    screen = io.StringIO()
    terminal.err = Console(file=screen, force_terminal=True, width=120)
    worker = asyncio.create_task(fake_worker(store, "circle"))
    assert await run_reconcile(store, ["circle"], terminal=terminal, options=FAST) == 0
    await worker
    assert "checked" in screen.getvalue()
    assert "done" in screen.getvalue()


class UnreachableStore(InMemorySweepStore):
    async def request(self, integration: str, *, dry_run: bool, by: str) -> SweepRecord:
        raise ServerSelectionTimeoutError("127.0.0.1:27017: [Errno 111] Connection refused")


async def test_an_unreachable_store_names_the_setting(
    captured: Captured, settings: CliSettings
) -> None:
    code = await run(["reconcile"], deps(captured, settings, store=UnreachableStore()))
    assert code == 1
    assert "cannot reach the store (SWITCHBOARD_MONGODB_URI)" in captured.err
    assert captured.out == ""


def test_store_messages_never_show_the_uri_secret() -> None:
    uri = "mongodb://switchboard:hunter2-secret@mongo-0.db:27017,mongo-1.db:27017/?tls=true"
    unreachable = store_problem(ServerSelectionTimeoutError("timed out"), uri)
    assert unreachable == (
        "cannot reach the store at mongo-0.db:27017,mongo-1.db:27017 "
        "(SWITCHBOARD_MONGODB_URI); is it running (locally: make run)?"
    )
    refused = store_problem(OperationFailure("auth failed", code=18), uri)
    assert "refused the credentials" in refused
    assert all("hunter2" not in text for text in (unreachable, refused))


async def test_a_missing_store_setting_is_named(captured: Captured) -> None:
    production = CliSettings(env="production", mongodb_uri="")
    code = await run(["reconcile", "--integration", "crm"], deps(captured, production))
    assert code == 1
    assert "SWITCHBOARD_MONGODB_URI is not set" in captured.err
    assert "--local" in captured.err


async def test_the_command_line_reaches_the_store(
    captured: Captured, settings: CliSettings
) -> None:
    store = InMemorySweepStore()
    worker = asyncio.create_task(fake_worker(store, "crm"))
    code = await run(
        ["reconcile", "--integration", "crm", "--json", "--dry-run"],
        deps(captured, settings, store=store),
    )
    record = await worker
    assert code == 0
    assert record.dry_run
    assert list(last_json(captured.out)) == ["crm"]


async def test_ctrl_c_withdraws_what_no_worker_took(captured: Captured) -> None:
    store = InMemorySweepStore()
    worker = asyncio.create_task(fake_worker(store, "circle", run_for=0.3))
    command = asyncio.create_task(
        run_reconcile(store, ["circle", "crm"], terminal=captured.terminal, options=FAST)
    )
    await asyncio.sleep(0.1)
    command.cancel()  # what asyncio.run does to the command on Ctrl-C
    with pytest.raises(asyncio.CancelledError):
        await command
    by_integration = {r.integration: r for r in store.records.values()}
    assert by_integration["crm"].state is SweepState.FAILED
    assert by_integration["crm"].reason == WITHDRAWN
    assert by_integration["circle"].state is SweepState.RUNNING  # its worker goes on
    assert "requests no worker had taken were withdrawn" in captured.err
    assert (await worker).state is SweepState.DONE
