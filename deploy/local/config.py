"""The launcher's settings, all from the environment (see deploy/local/README.md)."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
HOST = "127.0.0.1"


class ConfigError(Exception):
    """A setting that cannot be used; the message is one line."""


def repo_path(value: str | Path) -> Path:
    """Relative paths are taken from the repo root, not the caller's working directory."""
    path = Path(value)
    return path if path.is_absolute() else REPO / path


def _port(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name, str(default))
    if not raw.isdigit() or not 0 < int(raw) < 65536:
        raise ConfigError(f"{name} must be a port number, got '{raw}'")
    return int(raw)


def _number(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name, str(default))
    try:
        return float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number, got '{raw}'") from None


@dataclass(frozen=True)
class Config:
    run_dir: Path
    cache_dir: Path
    kafka_port: int
    controller_port: int
    mongo_port: int
    python: str
    start_timeout: float
    kafka_heap: str
    ferretdb_log_level: str
    port_offset: int
    stop_timeout: float = 20.0

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Config:
        env = os.environ if env is None else env
        config = cls(
            run_dir=repo_path(env.get("SWITCHBOARD_LOCAL_RUN_DIR", ".run/local")),
            cache_dir=repo_path(env.get("SWITCHBOARD_CACHE_DIR", ".cache")),
            kafka_port=_port(env, "SWITCHBOARD_LOCAL_KAFKA_PORT", 9092),
            controller_port=_port(env, "SWITCHBOARD_LOCAL_KAFKA_CONTROLLER_PORT", 9093),
            mongo_port=_port(env, "SWITCHBOARD_LOCAL_MONGO_PORT", 27017),
            python=env.get("PYTHON", sys.executable),
            start_timeout=_number(env, "SWITCHBOARD_LOCAL_START_TIMEOUT", 90),
            kafka_heap=env.get("SWITCHBOARD_LOCAL_KAFKA_HEAP", "512m"),
            # FerretDB logs every failed command (pymongo's endSessions on close, too) as a
            # multi-line WARN dump
            ferretdb_log_level=env.get("SWITCHBOARD_LOCAL_FERRETDB_LOG_LEVEL", "warn"),
            port_offset=int(_number(env, "SWITCHBOARD_LOCAL_PORT_OFFSET", 0)),
        )
        if config.kafka_port == config.controller_port:
            raise ConfigError(f"kafka port and controller port must differ ({config.kafka_port})")
        return config

    @property
    def log_dir(self) -> Path:
        return self.run_dir / "logs"

    @property
    def kafka_bootstrap(self) -> str:
        return f"{HOST}:{self.kafka_port}"

    @property
    def mongo_uri(self) -> str:
        return f"mongodb://{HOST}:{self.mongo_port}/?directConnection=true"
