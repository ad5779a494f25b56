"""One soak run against a started stack: register the Stripe objects ingest will look up, send
every delivery at the set rate while the fault schedule runs, wait for convergence, grade.

Used by `run.py` (the benchmark) and `tests/e2e/test_soak.py` (the short CI soak)."""

from __future__ import annotations

import asyncio
import importlib.util
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import httpx

from bench.soak import faults, scenario
from bench.soak.delivery import StripeSender
from bench.soak.observe import ConvergenceSampler, LagSampler, StatusProbe, all_statuses
from bench.soak.verdicts import Status, grade
from libs.runtime.local_defaults import LOCAL_DEFAULTS, SECRET_SETTINGS

REPO = Path(__file__).resolve().parents[2]


@dataclass
class Config:
    customers: int = 10_000
    rate: float = 20.0
    schedule: str = "full"
    seed: int = 1
    #: after the faults cleared, how long to wait for every customer to converge
    converge_timeout: float = 600.0
    #: stop waiting early when the converged count has not moved for this long
    stall_seconds: float = 180.0
    progress_every: float = 10.0
    sample_every: float = 5.0


def stack_env(
    ports: dict[str, int],
    kafka: str,
    mongo: str,
    run_id: str,
    prefix: str = "soak",
    *,
    unlimited: bool = True,
) -> dict[str, str]:
    """What the services need beyond the environment (as tests/e2e/conftest.py sets it).
    `unlimited`: the sandbox's rate limits and the workers' pacing off (`bench/launch` keeps
    both, at the published limits)."""
    sandbox = f"http://127.0.0.1:{ports['sandbox']}"
    env = {
        "SWITCHBOARD_ENV": "local",
        "PYTHONUNBUFFERED": "1",
        "SWITCHBOARD_KAFKA_BOOTSTRAP_SERVERS": kafka,
        "SWITCHBOARD_MONGODB_URI": mongo,
        "SWITCHBOARD_MONGODB_DATABASE": f"{prefix}_{run_id}",
        "SWITCHBOARD_KAFKA_GROUP_PREFIX": f"{prefix}-{run_id}",
        "SWITCHBOARD_CIRCLE_BASE_URL": f"{sandbox}/circle",
        "SWITCHBOARD_KIT_BASE_URL": f"{sandbox}/kit",
        "SWITCHBOARD_HUBSPOT_BASE_URL": f"{sandbox}/hubspot",
        "SWITCHBOARD_ZENDESK_BASE_URL": f"{sandbox}/zendesk",
        "SWITCHBOARD_STRIPE_API_BASE_URL": f"{sandbox}/stripe",
        "SWITCHBOARD_SANDBOX_INGEST_URL": f"http://127.0.0.1:{ports['ingest']}/webhooks/stripe",
        # the harness's status probes stand for many app users, all from 127.0.0.1: the
        # per-address and per-token throttles (a guard against one client) stay out of it
        "SWITCHBOARD_STATUS_RATE_LIMIT_PER_IP": "0",
        "SWITCHBOARD_STATUS_RATE_LIMIT_PER_TOKEN": "0",
        "SWITCHBOARD_ADMIN_RATE_LIMIT_PER_IP": "0",
        "SWITCHBOARD_ADMIN_RATE_LIMIT_PER_TOKEN": "0",
        "SWITCHBOARD_CHECKOUT_STATUS_RATE_LIMIT": "0",
    }
    if not unlimited:
        return env
    for provider in ("CIRCLE", "KIT", "HUBSPOT", "ZENDESK", "STRIPE"):
        env[f"SWITCHBOARD_SANDBOX_{provider}_RATE_LIMIT"] = "0"
    # the providers' limits are off, so the workers' pacing at those limits is too: the soak
    # measures faults and recovery, `bench/launch` measures the budget
    env["SWITCHBOARD_RATE_LIMIT"] = "0"
    return env


async def register(
    client: httpx.AsyncClient, sandbox: str, customers: list[scenario.Customer]
) -> list[scenario.Customer]:
    """Put the Stripe objects ingest must read back (customer, subscription, charge) into the
    sandbox's store, for the stories that need them; their events then name those ids."""
    gate = asyncio.Semaphore(8)

    async def one(c: scenario.Customer) -> scenario.Customer:
        if c.story not in scenario.NEEDS_STRIPE_OBJECTS:
            return c
        body = {
            "scenario": "purchase",
            "email": c.email,
            "customer": c.customer_id,
            "created": c.purchased_at,
            "deliver": False,
        }
        async with gate:
            made = (await client.post(f"{sandbox}/_sandbox/stripe/trigger", json=body)).json()
        return c.with_stripe_ids(made["subscription_id"], made["invoice_id"], made["charge_id"])

    return list(await asyncio.gather(*(one(c) for c in customers)))


def _first_at(curve: list[tuple[float, int]], target: int, after: float) -> float | None:
    return next((round(t - after, 1) for t, c in curve if c >= target and t >= after), None)


async def soak(
    cfg: Config,
    stack: Any,
    sandbox: str,
    ingest: str,
    infra_env: dict[str, str],
    run_id: str,
) -> dict[str, Any]:
    supervised = hasattr(stack, "start_supervisor")
    if supervised:
        stack.start_supervisor()
    limits = httpx.Limits(max_connections=300, max_keepalive_connections=50)
    async with httpx.AsyncClient(timeout=30, limits=limits) as client:
        base = int(time.time()) - 90 * scenario.DAY
        customers = scenario.make_customers(cfg.customers, run_id, base, seed=cfg.seed)
        started = time.monotonic()
        customers = await register(client, sandbox, customers)
        print(f"registered Stripe objects in {time.monotonic() - started:.1f} s", flush=True)
        plan = scenario.make_plan(customers, seed=cfg.seed)
        expected = scenario.expectations(plan)
        stories = {c.email.lower(): c.story for c in customers}
        slots = sum(1 for d in plan.deliveries if not d.concurrent)
        send_seconds = slots / cfg.rate
        print(
            f"{len(plan.deliveries)} deliveries of {len(plan.events)} events for "
            f"{len(customers)} customers over {send_seconds:.0f} s",
            flush=True,
        )
        t0 = time.monotonic()
        sender = StripeSender(client, f"{ingest}/webhooks/stripe")
        runner = faults.FaultRunner(stack, sandbox, infra_env, t0, supervised=supervised)
        sent_emails: list[str] = []
        probe = StatusProbe(client, ingest, lambda: sent_emails, t0)
        sampler = ConvergenceSampler(client, sandbox, expected, t0)
        workers = {
            s.name: f"http://127.0.0.1:{s.port}"
            for s in getattr(stack, "specs", [])
            if s.name.endswith("_sync")
        }
        lag = LagSampler(client, workers, t0)
        accepted_series: list[tuple[float, int]] = []
        stop = asyncio.Event()

        async def progress() -> None:
            last = 0.0
            while not stop.is_set():
                now = time.monotonic() - t0
                accepted_series.append((round(now, 1), len(sender.accepted_events)))
                if now - last >= cfg.progress_every:
                    last = now
                    print(
                        f"[{now:6.0f}s] sent {sender.sent}/{len(plan.deliveries)} accepted "
                        f"{len(sender.accepted_events)}/{len(plan.events)} redelivering "
                        f"{sender.redelivering} in flight {sender.in_flight} converged "
                        f"{sampler.last}/{len(customers)}",
                        flush=True,
                    )
                await asyncio.sleep(2.0)

        background = [
            asyncio.create_task(progress()),
            asyncio.create_task(probe.run(stop)),
            asyncio.create_task(lag.run(stop, cfg.sample_every)),
            asyncio.create_task(sampler.run(stop, cfg.sample_every * 2)),
        ]
        fault_task = asyncio.create_task(runner.run(faults.SCHEDULES[cfg.schedule], send_seconds))
        slot = 0
        for d in plan.deliveries:
            if not d.concurrent:
                await asyncio.sleep(max(0.0, t0 + slot / cfg.rate - time.monotonic()))
                slot += 1
            spec = plan.events[d.event_id]
            # built when sent (pure, so a duplicate is byte for byte the same event)
            sender.deliver(d.event_id, scenario.event_payload(spec, customers[spec.customer]))
            if not d.duplicate:
                sent_emails.append(customers[spec.customer].email)
        sending_done = time.monotonic() - t0
        await fault_task
        faults_cleared = runner.cleared_at or sending_done
        all_accepted = await sender.wait_accepted(within=cfg.converge_timeout)
        background[-1].cancel()
        await asyncio.gather(background[-1], return_exceptions=True)
        why = await converge(cfg, sampler, len(customers), t0 + faults_cleared)
        stop.set()
        await asyncio.gather(*background[:-1])
        statuses = await all_statuses(client, ingest, sorted(expected))
        if why.startswith("all_"):  # the providers settled; the status API may trail them
            await settle_statuses(cfg, client, ingest, expected, statuses)
        await sampler.sample()  # the providers as of the status sweep
    if sampler.state is None:
        raise RuntimeError("the sandbox never answered GET /_sandbox/state")
    state = sampler.state
    # still moving when the wait ended (a timeout, not a stall): a step pending with a reason is
    # late, not stuck; after a stall, nothing was moving, so it counts as stuck whatever it says
    verdict = grade(expected, stories, state, statuses, moving=why == "timeout")
    curve = sampler.curve
    return {
        "config": {
            **asdict(cfg),
            "run_id": run_id,
            "supervisor": supervised,
            "service_settings": {
                k: getattr(stack, "env", {}).get(k) for k in faults.SCHEDULE_ENV[cfg.schedule]
            },
        },
        "stories": scenario.story_counts(customers),
        "events": len(plan.events),
        "timeline": {
            "send_seconds_planned": round(send_seconds, 1),
            "sending_done": round(sending_done, 1),
            "faults_cleared": round(faults_cleared, 1),
            "all_deliveries_accepted": all_accepted,
            "convergence_stopped": why,
            "converge_seconds_after_faults_cleared": _first_at(
                curve, len(customers), faults_cleared
            ),
            "converge_seconds_after_sending_done": _first_at(curve, len(customers), sending_done),
            # the figure that judges a run: a customer cannot converge before its last event is
            # sent, so the clock starts when both the faults and the sending are over
            "converge_seconds_after_faults_and_sending": _first_at(
                curve, len(customers), max(faults_cleared, sending_done)
            ),
            "settle_seconds_after_faults_cleared": _first_at(
                sampler.settled, len(customers), faults_cleared
            ),
            "converged_at_end": curve[-1][1] if curve else 0,
        },
        "delivery": sender.summary(),
        "status_api": probe.summary(),
        "worker_lag": lag.summary(),
        "faults": {
            "windows": [w.as_json() for w in runner.windows],
            "errors": runner.errors,
            "restarts": [list(r) for r in getattr(stack, "restarts", [])],
        },
        "verdict": verdict,
        "final_state": state,
        "log_audit": audit(stack),
        "series": {
            "converged": [[round(t, 1), c] for t, c in curve],
            "settled": [[round(t, 1), c] for t, c in sampler.settled],
            "accepted_events": accepted_series,
            "worker_lag": {name: [list(p) for p in pts] for name, pts in lag.series.items()},
            "status_latency": [
                [round(t, 2), None if s is None else round(s, 4), code]
                for t, s, code in probe.samples
            ],
        },
    }


async def converge(cfg: Config, sampler: ConvergenceSampler, n: int, cleared: float) -> str:
    """Sample until every customer converged (or has a ticket), the count stalls, or the
    timeout."""
    moved_at, best = time.monotonic(), -1
    while True:
        count = await sampler.sample()
        now = time.monotonic()
        if count is not None and count > best:
            best, moved_at = count, now
        if best >= n:
            return "all_converged"
        # every customer converged or ticketed, and nothing moved for a while (a ticketed
        # customer may still be converging elsewhere)
        quiet = now - moved_at >= 3 * cfg.sample_every
        if count is not None and sampler.settled[-1][1] >= n and quiet:
            return "all_converged_or_ticketed"
        if now - cleared > cfg.converge_timeout:
            return "timeout"
        if now - moved_at > cfg.stall_seconds:
            return f"stalled ({cfg.stall_seconds:.0f} s without progress)"
        await asyncio.sleep(cfg.sample_every)


async def settle_statuses(
    cfg: Config,
    client: httpx.AsyncClient,
    ingest: str,
    expected: dict[str, scenario.Expected],
    statuses: dict[str, Status],
) -> None:
    """Ask again, for a while, about the customers whose status still says pending or another
    lifecycle: the last worker outcomes (and paid -> active) reach ingest after the providers."""
    deadline = time.monotonic() + cfg.stall_seconds
    while time.monotonic() < deadline:
        waiting = [
            email
            for email, status in statuses.items()
            if status.code != 200
            or status.lifecycle != expected[email].lifecycle
            or "pending" in status.integrations.values()
        ]
        if not waiting:
            return
        await asyncio.sleep(cfg.sample_every)
        statuses.update(await all_statuses(client, ingest, waiting))


def audit(stack: Any) -> dict[str, Any] | None:
    """bench/log_audit.py's audit over the Switchboard services' logs, where it exists."""
    if importlib.util.find_spec("bench.log_audit") is None:
        return None
    from bench import log_audit

    paths = [stack.log_dir / f"{name}.log" for name in faults.SERVICES]
    secrets = [LOCAL_DEFAULTS[name] for name in SECRET_SETTINGS]
    try:
        result: dict[str, Any] = log_audit.audit_logs([p for p in paths if p.exists()], secrets)
    except Exception as exc:  # another helper's tool: report its failure, keep the soak's result
        return {"error": f"{type(exc).__name__}: {exc}"[:300]}
    return result
