"""python -m deploy.local provision|start|stop|status|reset|topics|run (see deploy/local/README.md).

Exit status: 0 on success, 1 with one `error: ...` line, 3 from `status` when not both servers run,
130 when a start is interrupted (Ctrl-C/SIGTERM; what it launched is stopped first).
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
from pathlib import Path
from types import FrameType

from libs.runtime.mapping import (
    DEFAULT_MAPPING_FILE,
    IntegrationMapping,
    MappingError,
    load_section,
)

from . import infra, probes
from .config import HOST, Config, ConfigError
from .process import LaunchError, Process, stop_all
from .provision import provision
from .stack import Stack, default_specs, recorded_services


def _interrupt(signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt(signal.Signals(signum).name)


def _launcher(config: Config) -> Process:
    """`run` itself, recorded like every other process (so a second `run` and `stop` find it)."""
    return Process(
        name="launcher",
        pid_file=config.run_dir / "run.pid",
        log_file=config.log_dir / "run.log",
        port=0,
    )


def stop_everything(config: Config, names: tuple[str, ...] = infra.NAMES) -> None:
    if names == infra.NAMES:  # a whole stop: the launcher and any service it left, then infra
        # the launcher stops its services and infra itself; give it time for both
        for line in stop_all([_launcher(config)], 3 * config.stop_timeout):
            if "not running" not in line:
                print(line, flush=True)
        for line in stop_all(recorded_services(config.run_dir), config.stop_timeout):
            if "not running" not in line:
                print(line, flush=True)
    for line in infra.stop(config, names):
        print(line, flush=True)


def mapped_kit_tags() -> list[str]:
    """The Kit tags the workers' mapping file names (`SWITCHBOARD_MAPPING_FILE`, else the
    default one), each once."""
    path = Path(os.environ.get("SWITCHBOARD_MAPPING_FILE") or DEFAULT_MAPPING_FILE)
    try:
        mapping = load_section(path, "convertkit", IntegrationMapping[list[str]])
    except MappingError:
        return []  # the Kit worker refuses to start and names the problem itself
    return list(dict.fromkeys(tag for tags in mapping.everything() for tag in tags))


def service_env(config: Config, stack_ports: dict[str, int]) -> dict[str, str]:
    """The services' environment: ours, plus where this run's Kafka, store and sandbox are
    (a setting already in the environment wins)."""
    env = dict(os.environ)
    sandbox = f"http://{HOST}:{stack_ports['sandbox']}"
    defaults = {
        "SWITCHBOARD_ENV": "local",
        "PYTHONUNBUFFERED": "1",
        "SWITCHBOARD_KAFKA_BOOTSTRAP_SERVERS": config.kafka_bootstrap,
        "SWITCHBOARD_MONGODB_URI": config.mongo_uri + "&maxPoolSize=1",
        "SWITCHBOARD_SANDBOX_INGEST_URL": f"http://{HOST}:{stack_ports['ingest']}/webhooks/stripe",
        **{
            f"SWITCHBOARD_{provider.upper()}_BASE_URL": f"{sandbox}/{provider}"
            for provider in ("circle", "kit", "hubspot", "zendesk")
        },
        "SWITCHBOARD_STRIPE_API_BASE_URL": f"{sandbox}/stripe",
        # the Kit tags the mapping names exist, as in a configured account (the sandbox seeds
        # Circle's access groups itself): `switchboard doctor` checks them
        "SWITCHBOARD_SANDBOX_KIT_TAGS": ",".join(mapped_kit_tags()),
    }
    for name, value in defaults.items():
        env.setdefault(name, value)
    return env


def run(config: Config, with_infra: bool, check: bool) -> int:
    """The whole system in the foreground: infra, the sandbox and the services, supervised."""
    launcher = _launcher(config)
    record = launcher.recorded()
    if record is not None:
        print(f"run: already running (pid {record[0]}); stop it with Ctrl-C there or `stop`")
        return 0
    ports = {s.name: s.port + config.port_offset for s in default_specs()}
    sandbox_url = f"http://{HOST}:{ports['sandbox']}"
    stack = Stack(
        default_specs(ports),  # metrics ports move with their service's port
        service_env(config, ports),
        config.log_dir,
        python=config.python,
    )
    stop_all(list(stack.services.values()), config.stop_timeout)  # left by a killed `run`
    started = time.monotonic()
    stack.check_ports()  # before anything starts (infra checks its own ports before starting)
    try:
        if with_infra:
            infra.start(config)
        config.run_dir.mkdir(parents=True, exist_ok=True)
        launcher.pid_file.write_text(f"{os.getpid()} {_own_start_time()} 0\n")
        print("starting the sandbox and services ...", flush=True)
        stack.start(timeout=config.start_timeout)
        print(
            f"\nSwitchboard is ready ({time.monotonic() - started:.1f} s). "
            f"Logs: {stack.log_dir}/<service>.log\n"
        )
        for spec in stack.specs:
            metrics = f"  (metrics :{spec.metrics_port})" if spec.metrics_port else ""
            print(f"  {spec.name:<16} http://{HOST}:{spec.port}{metrics}")
        sandbox_flag = "" if ports["sandbox"] == 8070 else f" --sandbox-url {sandbox_url}"
        print(
            "\nSend a test purchase:\n"
            "  .venv/bin/python -m sandbox.trigger purchase --email jane@example.com"
            f"{sandbox_flag}\n"
            "Then see the Circle member:\n"
            f"  curl -s {sandbox_url}/_sandbox/state\n"
            "\nA service that exits is restarted. Ctrl-C stops everything.",
            flush=True,
        )
        if not check:
            # A service that exits is restarted with a backoff (as Kubernetes restarts a pod);
            # only Ctrl-C (or SIGTERM, or `stop`) stops everything.
            stack.start_supervisor()
            try:
                while True:
                    time.sleep(0.5)
            except KeyboardInterrupt:
                pass
        return 0
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not cut the stop short
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        print("\nstopping services ...", flush=True)
        stack.stop(config.stop_timeout)
        if with_infra:
            for line in infra.stop(config):
                print(line, flush=True)
        launcher.pid_file.unlink(missing_ok=True)


def _own_start_time() -> int:
    from .process import start_time

    return start_time(os.getpid()) or 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m deploy.local", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("provision", help="fetch the Kafka jars (mvn), build FerretDB (go); cached")
    sub.add_parser("start", help="start Kafka + FerretDB, wait for real answers, create topics")
    stop = sub.add_parser("stop", help="stop everything of this run dir (SIGTERM, then SIGKILL)")
    stop.add_argument("only", nargs="?", choices=infra.NAMES, help="stop only this server")
    sub.add_parser("stop-kafka", help="stop only Kafka (`start` brings it back)")
    sub.add_parser("stop-ferretdb", help="stop only FerretDB (`start` brings it back)")
    sub.add_parser("status", help="one line per server; exit 0 if both run, 3 otherwise")
    sub.add_parser("reset", help="stop, then delete the run dir's data and logs")
    sub.add_parser("topics", help="list topics with partition counts")
    run_parser = sub.add_parser("run", help="infra + sandbox + services, supervised; Ctrl-C stops")
    run_parser.add_argument(
        "--no-infra",
        action="store_true",
        help="start only the sandbox and services, on the Kafka and store "
        "named by SWITCHBOARD_KAFKA_BOOTSTRAP_SERVERS / SWITCHBOARD_MONGODB_URI",
    )
    run_parser.add_argument("--check", action="store_true", help="start, report, stop")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        config = Config.from_env()
        command: str = args.command
        if command == "provision":
            provision(config)
        elif command == "start":
            infra.start(config)
        elif command in ("stop", "stop-kafka", "stop-ferretdb"):
            only = args.only if command == "stop" else command.removeprefix("stop-")
            stop_everything(config, (only,) if only else infra.NAMES)
        elif command == "status":
            lines, ok = infra.status(config)
            launcher = _launcher(config).pid
            if launcher is not None:
                lines.append(f"run: running (pid {launcher})")
            for service in recorded_services(config.run_dir):
                if service.pid is None:
                    continue
                state = "running" if service.answering() else "not answering"
                lines.append(f"  {service.name}: {state} (pid {service.pid})")
            print("\n".join(lines))
            return 0 if ok else 3
        elif command == "reset":
            stop_everything(config)
            print(infra.reset(config)[-1])
        elif command == "topics":
            for name, count in sorted(probes.list_topics(config.kafka_bootstrap).items()):
                print(f"{name}\t{count}")
        else:
            return run(config, with_infra=not args.no_infra, check=args.check)
    except (ConfigError, LaunchError) as exc:
        print(f"error: {exc}", file=sys.stderr, flush=True)
        return 1
    except KeyboardInterrupt:
        print(f"{args.command} interrupted", file=sys.stderr, flush=True)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
