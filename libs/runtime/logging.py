"""JSON log lines, one per event, carrying the ids that let one event be followed across services.

Emails never appear in logs: `email_hash` gives a stable, non-reversible handle instead.
"""

from __future__ import annotations

import hashlib
import logging
import sys
from typing import Any

import structlog


def email_hash(email: str | None) -> str | None:
    if not email:
        return None
    return hashlib.sha256(email.strip().lower().encode()).hexdigest()[:16]


def configure_logging(service: str, level: str = "INFO") -> None:
    """Our own lines and every library's (uvicorn, aiokafka, pymongo) as one JSON object each:
    a library's traceback goes into the `exception` field, never across lines."""
    foreign = logging.StreamHandler(sys.stdout)
    foreign.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[
                structlog.stdlib.add_log_level,
                structlog.stdlib.add_logger_name,
                structlog.processors.TimeStamper(fmt="iso", utc=True),
                _bind_service(service),
            ],
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.EventRenamer("message"),
                structlog.processors.format_exc_info,
                structlog.processors.JSONRenderer(),
            ],
        )
    )
    logging.basicConfig(handlers=[foreign], level=level.upper(), force=True)
    # Python's warnings (a coroutine never awaited, a deprecation) are written to stderr as
    # plain text otherwise; as log records they are JSON lines like the rest.
    logging.captureWarnings(True)
    # FastStream gives its logger a handler of its own (coloured text on stderr) and stops it
    # propagating; its lines go through ours instead.
    streaming = logging.getLogger("faststream")
    streaming.handlers.clear()
    streaming.propagate = True
    for noisy in ("aiokafka", "pymongo", "httpx", "httpcore", "uvicorn.access", "faststream"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.EventRenamer("message"),
            _bind_service(service),
            structlog.processors.format_exc_info,
            structlog.processors.JSONRenderer(),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stdout),
        cache_logger_on_first_use=False,
    )


def _bind_service(service: str) -> Any:
    def processor(_: Any, __: str, event: dict[str, Any]) -> dict[str, Any]:
        event.setdefault("service", service)
        return event

    return processor


def get_logger(**bound: Any) -> Any:
    # Lazy: modules call this at import, before `configure_logging` has run.
    return structlog.get_logger(**bound)
