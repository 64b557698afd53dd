"""Structured logs: one JSON object per line, so the audit trail can be shipped and queried."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from typing import Any

import orjson

_EXTRAS = ("audit", "access", "dsn")


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


class BatchedHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Lines logged in one turn of the event loop go out in one write when it ends: the
    access log has a line for every request, and a write each would be a system call
    each. Outside a running loop (the command line; a worker's last lines) a line goes out
    at once; a process that exits normally flushes what is left (logging.shutdown)."""

    def __init__(self) -> None:
        super().__init__()
        self._lines: list[str] = []
        self._due: asyncio.AbstractEventLoop | None = None  # the loop a flush is due on

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = self.format(record)
        except Exception:
            self.handleError(record)
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        self._lines.append(line)
        if loop is None:
            self.flush()
        elif self._due is not loop:
            if self._due is not None:  # due on a loop that ended before its turn did
                self.flush()
            self._due = loop
            loop.call_soon(self.flush)

    def flush(self) -> None:
        self.acquire()
        try:
            self._due = None
            if self._lines:
                self.stream.write("\n".join(self._lines) + "\n")
                self._lines.clear()
            super().flush()
        finally:
            self.release()


def setup(level: str = "info") -> None:
    """JSON lines on stderr at `level` (config.yml's logging.level: debug ... error)."""
    # Nothing above reads the thread, process or task of a record, or the file and line it
    # was logged from: spare looking them up for each one (the logging module's documented
    # switches for speed; _srcfile is the one for the caller's frame).
    logging.logThreads = logging.logProcesses = logging.logMultiprocessing = False
    logging._srcfile = None
    handler = BatchedHandler()
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())


class Throttled:
    """A warning that may come with every request (a store down, requests turned away under
    overload): the first line of a kind goes out at once, the next ones of the same text
    within `every` seconds are only counted and then logged as one line with their count.
    Otherwise a flood of requests is also a flood of log lines."""

    MAX_KINDS = 256  # distinct texts held back at once; past it, lines go out as they come

    def __init__(self, logger: logging.Logger, every: float = 10.0) -> None:
        self._log, self._every = logger, every
        self._last: dict[str, float] = {}  # text -> when its last line went out
        self._held: dict[str, int] = {}  # text -> lines counted since

    def warning(self, message: str, *args: object) -> None:
        text = message % args if args else message
        now = time.monotonic()
        if len(self._last) > self.MAX_KINDS:
            self._forget(now)
        last = self._last.get(text)
        if last is None or now - last >= self._every:
            self._flush(text)  # a flush whose timer was lost with its event loop
            self._last[text] = now
            self._log.warning("%s", text)
            return
        if text not in self._held and len(self._held) >= self.MAX_KINDS:
            self._log.warning("%s", text)
            return
        self._held[text] = self._held.get(text, 0) + 1
        if self._held[text] == 1:
            with contextlib.suppress(RuntimeError):  # no event loop: the next line flushes
                asyncio.get_running_loop().call_later(last + self._every - now, self._flush, text)

    def _flush(self, text: str) -> None:
        count = self._held.pop(text, 0)
        if count:
            self._last[text] = time.monotonic()
            self._log.warning("%s (%d more in the last %.0f s)", text, count, self._every)

    def _forget(self, now: float) -> None:
        for text, last in list(self._last.items()):
            if now - last >= self._every and text not in self._held:
                del self._last[text]
