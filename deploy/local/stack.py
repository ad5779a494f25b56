"""The sandbox and every Switchboard service as local processes (one `Process` each): started
together, each waited for until `GET /healthz` answers, restarted with a backoff when one exits
(the supervisor), stopped together. `make run`, the end-to-end tests and the benchmarks all start
the system with this `Stack`."""

from __future__ import annotations

import functools
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from . import probes
from .config import REPO
from .process import LaunchError, PortInUse, Process, stop_all

DEFAULT_PORTS = {
    "sandbox": 8070,
    "ingest": 8080,
    "support": 8081,
    "circle_sync": 9101,
    "convertkit_sync": 9102,
    "crm_sync": 9103,
}


#: services whose `/metrics` has a listener of its own (`SWITCHBOARD_METRICS_PORT`); the
#: workers serve it on their main port
DEFAULT_METRICS_PORTS = {"ingest": 9180, "support": 9181}
METRICS_PORT_SETTING = "SWITCHBOARD_METRICS_PORT"


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    module: str
    port: int
    env_port: str = "SWITCHBOARD_PORT"
    metrics_port: int | None = None


def metrics_port(name: str, port: int, given: Mapping[str, int]) -> int | None:
    """`given`'s, else the default moved as far as the service's main port was moved (the e2e
    stack's ingest on 18080 gets 19180), so two stacks on different ports never share one."""
    if name in given:
        return given[name]
    if name not in DEFAULT_METRICS_PORTS:
        return None
    return DEFAULT_METRICS_PORTS[name] + port - DEFAULT_PORTS[name]


def default_specs(
    base_ports: Mapping[str, int] | None = None, metrics_ports: Mapping[str, int] | None = None
) -> list[ServiceSpec]:
    """The sandbox first (services call it), then ingest, every worker, and support.
    Workers are found by folder: a new `services/<name>_sync/` with a `__main__.py` is run too."""
    ports = {**DEFAULT_PORTS, **(base_ports or {})}
    names = ["ingest"]
    names += sorted(
        p.name
        for p in (REPO / "services").iterdir()
        if p.name.endswith("_sync") and (p / "__main__.py").exists()
    )
    names.append("support")
    next_port = max(ports.values()) + 1
    specs = [ServiceSpec("sandbox", "sandbox", ports["sandbox"], "SWITCHBOARD_SANDBOX_PORT")]
    for name in names:
        if name not in ports:
            ports[name], next_port = next_port, next_port + 1
        port = ports[name]
        metrics = metrics_port(name, port, metrics_ports or {})
        specs.append(ServiceSpec(name, f"services.{name}", port, metrics_port=metrics))
    return specs


def _ready(spec: ServiceSpec) -> bool:
    # both listeners: a scrape right after start must find /metrics
    if not probes.http_ready(spec.port):
        return False
    return spec.metrics_port is None or probes.http_ready(spec.metrics_port, "/metrics")


@dataclass(frozen=True)
class Backoff:
    """How long the supervisor waits before restarting a service that exited."""

    first: float = 0.5
    most: float = 10.0
    #: a service that stayed up this long starts again from `first`
    reset_after: float = 30.0

    def delay(self, failures: int) -> float:
        return min(self.first * 2.0**failures, self.most)


def say(event: str, **fields: object) -> None:
    """The launcher's own log line: one JSON object, like every service's."""
    print(json.dumps({"event": event, "service": "launcher", **fields}), flush=True)


@dataclass
class Stack:
    specs: list[ServiceSpec]
    env: dict[str, str]
    log_dir: Path
    python: str = sys.executable
    #: where the pid files go (default: beside the logs)
    pid_dir: Path | None = None
    services: dict[str, Process] = field(default_factory=dict)
    #: set by `stop`; the supervisor restarts nothing after it
    stopping: threading.Event = field(default_factory=threading.Event)
    #: (service, exit code) of every restart the supervisor made, in order
    restarts: list[tuple[str, int]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        pid_dir = self.pid_dir or self.log_dir
        for spec in self.specs:
            self.services[spec.name] = Process(
                name=spec.name,
                pid_file=pid_dir / f"{spec.name}.pid",
                log_file=self.log_dir / f"{spec.name}.log",
                port=spec.port,
                command=[self.python, "-m", spec.module],
                extra_ports=(spec.metrics_port,) if spec.metrics_port else (),
                ready=functools.partial(_ready, spec),
                port_setting="its port",
            )

    @property
    def processes(self) -> dict[str, subprocess.Popen[bytes]]:
        return {name: p.popen for name, p in self.services.items() if p.popen is not None}

    def check_ports(self) -> None:
        for process in self.services.values():
            process.check_ports()

    def start(self, timeout: float = 60.0) -> None:
        """Start every service, wait until each answers; on failure stop them all and exit."""
        try:
            self.check_ports()
        except PortInUse as exc:
            raise SystemExit(f"error: {exc}") from None
        try:
            for spec in self.specs:
                self.start_one(spec)
            deadline = time.monotonic() + timeout
            for spec in self.specs:
                self.wait_healthy(spec, deadline)
        except LaunchError as exc:
            self.stop()
            raise SystemExit(f"error: {exc}") from None
        except BaseException:
            self.stop()
            raise

    def start_one(self, spec: ServiceSpec, extra_env: dict[str, str] | None = None) -> None:
        self.stopping.clear()
        env = {**self.env, **(extra_env or {}), spec.env_port: str(spec.port)}
        env.pop(METRICS_PORT_SETTING, None)  # one inherited from the shell is not this one's
        if spec.metrics_port is not None:
            env[METRICS_PORT_SETTING] = str(spec.metrics_port)
        self.services[spec.name].start(env)

    def wait_healthy(self, spec: ServiceSpec, deadline: float) -> None:
        process = self.services[spec.name]
        try:
            process.wait_ready(deadline, poll=0.1)
        except LaunchError:
            code = process.popen.poll() if process.popen else None
            what = f"exited with {code}" if code is not None else "did not become healthy"
            raise LaunchError(
                f"{spec.name} {what} on port {spec.port}:\n{process.log_tail()}"
            ) from None

    def log_tail(self, name: str, lines: int = 20) -> str:
        return self.services[name].log_tail(lines)

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        popen = self.services[name].popen
        if popen is not None and popen.poll() is None:
            os.kill(popen.pid, sig)
            popen.wait(timeout=30)

    def restart(
        self, name: str, timeout: float = 60.0, extra_env: dict[str, str] | None = None
    ) -> None:
        """Start `name` again (after `kill`), optionally with settings added to the environment."""
        spec = next(s for s in self.specs if s.name == name)
        self.start_one(spec, extra_env)
        self.wait_healthy(spec, time.monotonic() + timeout)

    def wait_running(self, name: str, timeout: float = 60.0) -> None:
        """Wait until `name` answers its health check again (after a kill, say)."""
        process = self.services[name]
        deadline = time.monotonic() + timeout
        while not (process.ready or process.answering)():
            if time.monotonic() > deadline:
                raise TimeoutError(f"{name} did not become healthy on port {process.port}")
            time.sleep(0.1)

    def start_supervisor(self, backoff: Backoff | None = None) -> threading.Thread:
        """Restart any service that exits, as Kubernetes would, until `stop`: one JSON log line
        per exit and per restart, and a backoff that doubles while a service keeps dying."""
        thread = threading.Thread(
            target=self._supervise, args=(backoff or Backoff(),), name="supervisor", daemon=True
        )
        thread.start()
        return thread

    def _supervise(self, policy: Backoff) -> None:
        failures: dict[str, int] = {}
        started = {name: time.monotonic() for name in self.processes}
        due: dict[str, float] = {}
        while not self.stopping.wait(0.2):
            now = time.monotonic()
            for spec in self.specs:
                popen = self.services[spec.name].popen
                if popen is None or popen.poll() is None:
                    if now - started.get(spec.name, now) > policy.reset_after:
                        failures.pop(spec.name, None)
                    continue
                if spec.name not in due:
                    count = failures.get(spec.name, 0)
                    due[spec.name] = now + policy.delay(count)
                    say(
                        "service_exited",
                        service=spec.name,
                        exit_code=popen.returncode,
                        restart_in_seconds=round(policy.delay(count), 2),
                        restarts=count,
                    )
                    continue
                if now < due[spec.name]:
                    continue
                with self._lock:
                    if self.stopping.is_set():
                        return
                    del due[spec.name]
                    failures[spec.name] = failures.get(spec.name, 0) + 1
                    self.restarts.append((spec.name, popen.returncode))
                    self.start_one(spec)
                    started[spec.name] = time.monotonic()
                say("service_restarted", service=spec.name, restarts=failures[spec.name])

    def stop(self, grace: float = 20.0) -> list[str]:
        with self._lock:
            self.stopping.set()
        return stop_all(list(self.services.values()), grace)


def recorded_services(run_dir: Path) -> list[Process]:
    """Every service a `Stack` recorded anywhere under `run_dir` (its pid files sit beside its
    logs), to stop them without their launcher: `stop` leaves nothing of a run dir running."""
    if not run_dir.is_dir():
        return []
    return [
        Process(
            name=str(f.relative_to(run_dir)), pid_file=f, log_file=f.with_suffix(".log"), port=0
        )
        for f in sorted(run_dir.glob("*/**/*.pid"))
    ]
