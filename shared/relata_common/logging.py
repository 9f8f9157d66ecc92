"""Structured logging with a correlation id that follows a request through HTTP calls and events."""

from __future__ import annotations

import logging
import sys
import uuid
from contextvars import ContextVar

import structlog
from structlog.typing import EventDict, Processor, WrappedLogger

correlation_id_var: ContextVar[str | None] = ContextVar("correlation_id", default=None)

REQUESTS_LOGGER = "relata.requests"
"""One line per HTTP request handled (method, path, status, milliseconds), with the request's
correlation id; off unless ``configure_logging(requests=True)`` (``CRM_LOG_REQUESTS``)."""


def current_correlation_id() -> str:
    """The correlation id of the work in progress, or a new one when none is set."""
    value = correlation_id_var.get()
    if value is None:
        value = str(uuid.uuid4())
        correlation_id_var.set(value)
    return value


def _add_correlation_id(_: WrappedLogger, __: str, event_dict: EventDict) -> EventDict:
    correlation_id = correlation_id_var.get()
    if correlation_id is not None:
        event_dict.setdefault("correlation_id", correlation_id)
    return event_dict


def configure_logging(
    service: str, *, level: str = "INFO", json: bool = True, requests: bool = False
) -> None:
    """Route stdlib and structlog output through one JSON (or console) renderer; with
    ``requests``, log a line per HTTP request handled."""
    renderer = (
        structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer(colors=False)
    )
    shared: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _add_correlation_id,
        lambda _, __, ev: {**ev, "service": service},
    ]
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            renderer,
        ],
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # FastStream logs every message at INFO; that is noise at event rates.
    logging.getLogger("faststream").setLevel(max(logging.WARNING, root.level))
    logging.getLogger("aiokafka").setLevel(max(logging.WARNING, root.level))
    # A line per request costs a little on every call: only when asked for.
    logging.getLogger(REQUESTS_LOGGER).setLevel(logging.INFO if requests else logging.WARNING)


def get_logger(name: str) -> structlog.stdlib.BoundLogger:
    return structlog.get_logger(name)
