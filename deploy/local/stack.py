"""Start the sandbox and every Switchboard service as local processes, wait until each answers,
and stop them all together. Used by `make run` (as a script) and by the end-to-end tests
(imported), so both start the system the same way.

    python deploy/local/stack.py            # start, print where everything listens, wait for Ctrl-C
    python deploy/local/stack.py --check    # start, report the time to ready, stop
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    module: str
    port: int
    env_port: str = "SWITCHBOARD_PORT"


def default_specs(base_ports: dict[str, int] | None = None) -> list[ServiceSpec]:
    """The sandbox first (services call it), then ingest, every worker, and support.
    Workers are found by folder: a new `services/<name>_sync/` with a `__main__.py` is run too."""
    ports = {
        "sandbox": 8070,
        "ingest": 8080,
        "support": 8081,
        "circle_sync": 9101,
        "convertkit_sync": 9102,
        "crm_sync": 9103,
        **(base_ports or {}),
    }
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
        specs.append(ServiceSpec(name, f"services.{name}", ports[name]))
    return specs


def port_in_use(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def healthy(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as response:
            return bool(response.status == 200)
    except OSError:
        return False


@dataclass
class Stack:
    specs: list[ServiceSpec]
    env: dict[str, str]
    log_dir: Path
    python: str = sys.executable
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    #: set by `stop`; the supervisor restarts nothing after it
    stopping: threading.Event = field(default_factory=threading.Event)
    #: (service, exit code) of every restart the supervisor made, in order
    restarts: list[tuple[str, int]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self, timeout: float = 60.0) -> None:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        for spec in self.specs:
            if port_in_use(spec.port):
                raise SystemExit(
                    f"error: port {spec.port} is already in use ({spec.name} cannot start); "
                    "stop whatever holds it or set its port"
                )
        for spec in self.specs:
            self.start_one(spec)
        deadline = time.monotonic() + timeout
        for spec in self.specs:
            self.wait_healthy(spec, deadline)

    def start_one(self, spec: ServiceSpec, extra_env: dict[str, str] | None = None) -> None:
        self.stopping.clear()
        env = {**self.env, **(extra_env or {}), spec.env_port: str(spec.port)}
        log = (self.log_dir / f"{spec.name}.log").open("ab")
        self.processes[spec.name] = subprocess.Popen(  # noqa: S603 - our own modules
            [self.python, "-m", spec.module],
            cwd=REPO,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # Ctrl-C reaches us, and we stop children in order
        )

    def wait_healthy(self, spec: ServiceSpec, deadline: float) -> None:
        process = self.processes[spec.name]
        while not healthy(spec.port):
            if process.poll() is not None:
                tail = self.log_tail(spec.name)
                self.stop()
                raise SystemExit(f"error: {spec.name} exited with {process.returncode}:\n{tail}")
            if time.monotonic() > deadline:
                self.stop()
                raise SystemExit(f"error: {spec.name} did not become healthy on port {spec.port}")
            time.sleep(0.1)

    def log_tail(self, name: str, lines: int = 20) -> str:
        path = self.log_dir / f"{name}.log"
        return (
            "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
            if path.exists()
            else ""
        )

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        process = self.processes[name]
        if process.poll() is None:
            os.kill(process.pid, sig)
            process.wait(timeout=30)

    def restart(
        self, name: str, timeout: float = 60.0, extra_env: dict[str, str] | None = None
    ) -> None:
        """Start `name` again (after `kill`), optionally with settings added to the environment."""
        spec = next(s for s in self.specs if s.name == name)
        self.start_one(spec, extra_env)
        self.wait_healthy(spec, time.monotonic() + timeout)

    def start_supervisor(self, backoff: Backoff | None = None) -> threading.Thread:
        """Restart any service that exits, as Kubernetes would, until `stop`: one JSON log line
        per restart and a backoff that doubles while a service keeps dying."""
        policy = backoff or Backoff()
        thread = threading.Thread(
            target=self._supervise, args=(policy,), name="supervisor", daemon=True
        )
        thread.start()
        return thread

    def _supervise(self, policy: Backoff) -> None:
        failures: dict[str, int] = {}
        started: dict[str, float] = {name: time.monotonic() for name in self.processes}
        due: dict[str, float] = {}
        while not self.stopping.wait(0.2):
            now = time.monotonic()
            for spec in self.specs:
                process = self.processes.get(spec.name)
                if process is None or process.poll() is None:
                    if now - started.get(spec.name, now) > policy.reset_after:
                        failures.pop(spec.name, None)
                    continue
                if spec.name not in due:
                    count = failures.get(spec.name, 0)
                    delay = policy.delay(count)
                    due[spec.name] = now + delay
                    _say(
                        "service_exited",
                        service=spec.name,
                        exit_code=process.returncode,
                        restart_in_seconds=round(delay, 2),
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
                    self.restarts.append((spec.name, process.returncode))
                    self.start_one(spec)
                    started[spec.name] = time.monotonic()
                _say("service_restarted", service=spec.name, restarts=failures[spec.name])

    def wait_running(self, name: str, timeout: float = 60.0) -> None:
        """Wait until `name` answers its health check again (after a kill, say)."""
        spec = next(s for s in self.specs if s.name == name)
        deadline = time.monotonic() + timeout
        while not healthy(spec.port):
            if time.monotonic() > deadline:
                raise TimeoutError(f"{name} did not become healthy on port {spec.port}")
            time.sleep(0.1)

    def stop(self, grace: float = 20.0) -> None:
        with self._lock:
            self.stopping.set()
        for process in self.processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + grace
        for process in self.processes.values():
            try:
                process.wait(timeout=max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@dataclass(frozen=True)
class Backoff:
    """How long the supervisor waits before restarting a service that exited."""

    first: float = 0.5
    most: float = 10.0
    #: a service that stayed up this long starts again from `first`
    reset_after: float = 30.0

    def delay(self, failures: int) -> float:
        return min(self.first * 2**failures, self.most)


def _say(event: str, **fields: object) -> None:
    """The launcher's own log line: one JSON object, like every service's."""
    print(json.dumps({"event": event, "service": "launcher", **fields}), flush=True)


def local_env() -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("SWITCHBOARD_ENV", "local")
    env.setdefault("PYTHONUNBUFFERED", "1")
    return env


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="start, report time to ready, stop")
    args = parser.parse_args()
    started = time.monotonic()
    run_dir = Path(os.environ.get("SWITCHBOARD_LOCAL_RUN_DIR", REPO / ".run" / "local"))
    # An offset moves every service's port at once (tests run a second launcher beside `make run`).
    offset = int(os.environ.get("SWITCHBOARD_LOCAL_PORT_OFFSET", "0"))
    ports = {spec.name: spec.port + offset for spec in default_specs()}
    stack = Stack(default_specs(ports), local_env(), run_dir / "logs")
    print("starting the sandbox and services ...", flush=True)
    stack.start()
    elapsed = time.monotonic() - started
    print(f"\nSwitchboard is ready ({elapsed:.1f} s). Logs: {stack.log_dir}/<service>.log\n")
    for spec in stack.specs:
        print(f"  {spec.name:<16} http://127.0.0.1:{spec.port}")
    print(
        "\nSend a test purchase:\n"
        "  .venv/bin/python -m sandbox.trigger purchase --email jane@example.com\n"
        "Then see the Circle member:\n"
        "  curl -s http://127.0.0.1:8070/_sandbox/state\n"
        "\nA service that exits is restarted. Ctrl-C stops everything.",
        flush=True,
    )
    if args.check:
        stack.stop()
        return 0
    stop = False

    def on_signal(*_: object) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    # A service that exits is restarted with a backoff (as Kubernetes restarts a pod); only
    # Ctrl-C stops everything.
    stack.start_supervisor()
    try:
        while not stop:
            time.sleep(0.5)
    finally:
        print("\nstopping services ...", flush=True)
        stack.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
