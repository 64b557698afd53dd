"""Structured logs: one JSON object per line, so the audit trail can be shipped and queried."""

from __future__ import annotations

import functools
import logging
import time
from typing import Any

import orjson

_EXTRAS = ("audit", "dsn")


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": _second(int(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in _EXTRAS:
            value = getattr(record, name, None)
            if isinstance(value, dict):
                entry.update(value)
            elif value is not None:
                entry[name] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(entry, default=str).decode()


@functools.lru_cache(maxsize=4)
def _second(epoch: int) -> str:
    """The UTC timestamp of one second: formatted once, though many lines share it."""
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(epoch))


def setup(level: int = logging.INFO) -> None:
    # Nothing above reads the thread, process or task of a record: spare looking them up
    # for each one (the logging module's documented switches for speed).
    logging.logThreads = logging.logProcesses = logging.logMultiprocessing = False
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
