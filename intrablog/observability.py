"""Logging for every layer: JSON lines carrying the request id (or stanza id) of the work in progress.

Secrets never reach a log line: the filter below masks any field whose name says it holds one, so even a
careless ``extra={"password": ...}`` prints ``***``.
"""

from __future__ import annotations

import contextvars
import logging
import sys
from typing import TextIO

from pythonjsonlogger.json import JsonFormatter

request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)

_SECRET_WORDS = ("password", "token", "secret", "authorization", "cookie", "credential")


class ContextFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id.get()
        for key, value in list(vars(record).items()):
            if value is not None and any(word in key.lower() for word in _SECRET_WORDS):
                setattr(record, key, "***")
        return True


class _PlainFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        rid = getattr(record, "request_id", None)
        return f"{line} [request_id={rid}]" if rid else line


def configure_logging(level: str = "INFO", json_format: bool = True, stream: TextIO | None = None) -> None:
    handler = logging.StreamHandler(stream or sys.stderr)
    formatter: logging.Formatter
    if json_format:
        formatter = JsonFormatter(
            "{asctime}{levelname}{name}{message}{request_id}",
            style="{",
            rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
        )
    else:
        formatter = _PlainFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    handler.setFormatter(formatter)
    handler.addFilter(ContextFilter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    # aiohttp's access log repeats what our middleware logs, with the raw query string.
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
