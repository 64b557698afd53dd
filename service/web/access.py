"""The access log: one line per answered request, as structured fields (method, path,
status, duration_ms, request_id, client), so a log store can query them. Health probes come
every few seconds from the orchestrator: they go at debug level."""

from __future__ import annotations

import logging

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger

from service.web.middleware import CLIENT, REQUEST_ID

PROBES = frozenset({"/health/live", "/health/ready"})


class AccessLogger(AbstractAccessLogger):
    """Method, path and status, never the query string: it may carry a token or a password."""

    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        path = request.path
        level = logging.DEBUG if path in PROBES else logging.INFO
        if not self.logger.isEnabledFor(level):
            return
        # A request aiohttp could not parse never reached the app: its peer is all there is.
        client = request.get(CLIENT) or request.remote
        fields = {
            "method": request.method,
            "path": path,
            "status": response.status,
            "duration_ms": round(time * 1000, 1),
            "request_id": request.get(REQUEST_ID),
            "client": client,
        }
        self.logger.log(
            level, "%s %s %s", request.method, path, response.status, extra={"access": fields}
        )

    @property
    def enabled(self) -> bool:
        return self.logger.isEnabledFor(logging.INFO)  # at WARNING, no access lines at all
