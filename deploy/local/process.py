"""One background process as the launcher sees it: Kafka, FerretDB, the sandbox and every service.

A `Process` has a command, a pid file, a log file, a port and a readiness check. The pid file holds
`pid starttime port`: a recorded process is *alive* when that pid still runs with that start time
(so a reused pid is never taken for ours, nor signalled), and *running* when it is alive and its
port answers. `stop` sends SIGTERM, then SIGKILL after a grace period.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from .config import HOST, REPO


class LaunchError(Exception):
    """Starting failed; the message is one line (printed after `error: `)."""


class PortInUse(LaunchError):
    def __init__(self, port: int, name: str, hint: str) -> None:
        super().__init__(
            f"port {port} is already in use by another process ({name} cannot start); {hint}"
        )
        self.port = port


def port_open(port: int, timeout: float = 1.0) -> bool:
    with socket.socket() as sock:
        sock.settimeout(timeout)
        return sock.connect_ex((HOST, port)) == 0


def start_time(pid: int) -> int | None:
    """Field 22 of /proc/<pid>/stat (start time in clock ticks); None if gone or a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii")
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()
    return None if fields[0] == "Z" else int(fields[19])


@dataclass
class Process:
    name: str
    pid_file: Path
    log_file: Path
    port: int
    command: list[str] = field(default_factory=list)
    #: more ports the process listens on (checked free before a start)
    extra_ports: tuple[int, ...] = ()
    #: a real answer (a Kafka metadata request, a Mongo ping, GET /healthz); default: port open
    ready: Callable[[], bool] | None = None
    env: Mapping[str, str] | None = None
    #: the setting that moves this process's port, named in the port-in-use error
    port_setting: str = ""
    popen: subprocess.Popen[bytes] | None = None

    # --- what the pid file says -------------------------------------------------------------

    def recorded(self) -> tuple[int, int, int] | None:
        """(pid, start time, port) of the recorded process if it is still alive."""
        try:
            pid, started, port = self.pid_file.read_text().split()[:3]
            record = (int(pid), int(started), int(port) if port.isdigit() else self.port)
        except (OSError, ValueError):
            return None
        return record if start_time(record[0]) == record[1] else None

    @property
    def pid(self) -> int | None:
        record = self.recorded()
        return record[0] if record else None

    def alive(self) -> bool:
        if self.popen is not None and self.popen.poll() is not None:
            return False
        return self.recorded() is not None

    def answering(self) -> bool:
        record = self.recorded()
        return record is not None and port_open(record[2])

    def running(self) -> bool:
        """Liveness: the recorded pid is alive and its port answers."""
        return self.alive() and self.answering()

    # --- start ------------------------------------------------------------------------------

    def check_ports(self) -> None:
        """Raise PortInUse if something else listens on one of our ports."""
        hint = f"stop it or set {self.port_setting}" if self.port_setting else "stop it"
        for port in (self.port, *self.extra_ports):
            if port_open(port):
                raise PortInUse(port, self.name, hint)

    def start(self, env: Mapping[str, str] | None = None, cwd: Path = REPO) -> None:
        """Launch in its own session (a Ctrl-C reaches the launcher, which stops it in order)."""
        self.pid_file.parent.mkdir(parents=True, exist_ok=True)
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        with self.log_file.open("ab") as log:
            self.popen = subprocess.Popen(
                self.command,
                cwd=cwd,
                env=dict(env if env is not None else self.env or os.environ),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        started = start_time(self.popen.pid)
        if started is None:
            raise LaunchError(f"{self.name} exited immediately; see {self.log_file}")
        tmp = self.pid_file.with_suffix(".tmp")
        tmp.write_text(f"{self.popen.pid} {started} {self.port}\n")
        tmp.replace(self.pid_file)

    def wait_ready(self, deadline: float, poll: float = 0.3) -> None:
        while True:
            if not self.alive():
                raise LaunchError(f"{self.name} exited during startup; see {self.log_file}")
            if (self.ready or self.answering)():
                return
            if time.monotonic() > deadline:
                raise LaunchError(
                    f"{self.name} did not answer on port {self.port} in time; see {self.log_file}"
                )
            time.sleep(poll)

    def log_tail(self, lines: int = 20) -> str:
        if not self.log_file.exists():
            return ""
        return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])

    # --- stop -------------------------------------------------------------------------------

    def stop(self, grace: float = 20.0) -> str:
        return stop_all([self], grace)[0]


def stop_all(processes: Iterable[Process], grace: float = 20.0) -> list[str]:
    """SIGTERM every recorded process at once, SIGKILL what is left after `grace` seconds; one
    message per process. Only a process whose pid *and* start time match is signalled."""
    procs = list(processes)
    messages: dict[str, str] = {}
    targets: list[tuple[Process, int, int]] = []
    for process in procs:
        record = process.recorded()
        if record is None:
            if process.pid_file.exists():
                process.pid_file.unlink(missing_ok=True)
                messages[process.name] = f"{process.name}: not running (removed stale pid file)"
            else:
                messages[process.name] = f"{process.name}: not running"
            _reap(process)
            continue
        with contextlib.suppress(ProcessLookupError):
            os.kill(record[0], signal.SIGTERM)
        targets.append((process, record[0], record[1]))
    deadline = time.monotonic() + grace
    while any(_lives(p, pid, st) for p, pid, st in targets) and time.monotonic() < deadline:
        time.sleep(0.1)
    for process, pid, started in targets:
        if _lives(process, pid, started):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            while _lives(process, pid, started):
                time.sleep(0.05)
            note = f"did not stop within {grace:g}s, killed (pid {pid})"
            messages[process.name] = f"{process.name}: {note}"
        else:
            messages[process.name] = f"{process.name}: stopped (pid {pid})"
        process.pid_file.unlink(missing_ok=True)
    return [messages[p.name] for p in procs]


def _lives(process: Process, pid: int, started: int) -> bool:
    _reap(process)
    return start_time(pid) == started


def _reap(process: Process) -> None:
    """Collect our own child's exit status, so it is not left a zombie."""
    if process.popen is not None:
        process.popen.poll()


@contextlib.contextmanager
def locked(path: Path, what: str, timeout: float = 120.0) -> Iterator[None]:
    """An exclusive flock on `path` (children do not inherit it: Python's files are not
    inheritable, and subprocess closes the rest)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as handle:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise LaunchError(f"another launcher command holds {path} ({what})") from None
                time.sleep(0.2)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
