"""Structured JSON logs carrying the request id of the call or event being handled."""

from __future__ import annotations

import logging
import sys
import uuid
from contextvars import ContextVar

from pythonjsonlogger.orjson import OrjsonFormatter

from services.kit import settings

# None outside any request; "" in a request whose id is made when first asked for.
_request_id: ContextVar[str | None] = ContextVar("request_id", default=None)

REQUEST_ID_HEADER = "x-request-id"


def new_request_id() -> str:
    return uuid.uuid4().hex


def current_request_id() -> str:
    """The id of the request being handled; "" outside any."""
    request_id = _request_id.get()
    if request_id == "":
        request_id = bind_request_id(None)
    return request_id or ""


def bind_request_id(request_id: str | None) -> str:
    """Makes `request_id` (or a new one) the id of what this thread, greenlet or task handles."""
    request_id = request_id or new_request_id()
    _request_id.set(request_id)
    return request_id


def adopt_request_id(offered: str | None) -> None:
    """Makes `offered` the id of what this thread or task handles; without one, an id is
    made when first asked for, which most fast calls never are: making one costs a
    system call for randomness."""
    _request_id.set(offered or "")


class _ContextFilter(logging.Filter):
    def __init__(self, process: str) -> None:
        super().__init__()
        self.process_name = process

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = current_request_id()
        record.process_name = self.process_name
        return True


# The loggers of the platform's own code: modules under services/, and named lines.
OWN_LOGGERS = ("services", "gantry")


def configure(process: str) -> None:
    """Sends every log record of this process to stderr as one JSON object per line."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        OrjsonFormatter(
            "{asctime}{levelname}{name}{message}{process_name}{request_id}",
            style="{",
            rename_fields={"asctime": "ts", "levelname": "level", "name": "logger"},
        )
    )
    handler.addFilter(_ContextFilter(process))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    level = logging.getLevelName(settings.log_level())
    # DEBUG is for the platform's own lines (a line per call, per event): the libraries'
    # debugging (kombu's frames, grpc's and SQLAlchemy's internals) would drown them.
    root.setLevel(max(level, logging.INFO))
    for own in OWN_LOGGERS:
        logging.getLogger(own).setLevel(level)
    # pika narrates every connection step at INFO.
    logging.getLogger("pika").setLevel(max(logging.WARNING, root.level))
