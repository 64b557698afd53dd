"""Answers to requests aiohttp refuses before any handler or middleware sees them: a header
line too long, a control character in a header, a bad request line.

aiohttp's own answer (RequestHandler.handle_error) is plain text that quotes the offending
line (an `Authorization: Basic` header with a control character in it, secret included),
carries `Server: Python/… aiohttp/…`, and the same line goes to the log with a traceback at
error level. No setting changes that, so the runner here builds its connections with a
handler class whose handle_error answers as the token endpoint does (league's JSON), names
no version, and logs one warning line without the value."""

from __future__ import annotations

import logging

import orjson
from aiohttp import web
from aiohttp.web_protocol import RequestHandler

from service.oauth.errors import InvalidRequest, OAuthError
from service.web.errors import NO_STORE

log = logging.getLogger(__name__)


class _Bare(web.Response):
    """A response without the `Server` header aiohttp adds while preparing the headers (no
    app signal runs for a request that was never parsed, so common_headers cannot)."""

    async def _prepare_headers(self) -> None:
        await super()._prepare_headers()
        self.headers.popall("Server", None)


class _Handler(RequestHandler):
    _closing = False

    def close(self) -> None:
        """The server is stopping (runner.cleanup): this connection serves no next request."""
        self._closing = True
        super().close()

    async def finish_response(
        self, request: web.BaseRequest, resp: web.StreamResponse, start_time: float | None
    ) -> tuple[web.StreamResponse, bool]:
        # aiohttp closes the connection after this answer but would not say so: a client
        # would send its next request on it and see the connection reset unanswered.
        if self._closing and not resp.prepared:
            resp.force_close()
        return await super().finish_response(request, resp, start_time)

    def handle_error(
        self,
        request: web.BaseRequest,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        error: OAuthError
        if status >= 500:  # a handler's exception that got past the error middleware
            log.error("unhandled error on %s %s", request.method, request.path, exc_info=exc)
            error = OAuthError()
        else:
            # The exception's message quotes the raw line: its name only.
            reason = type(exc).__name__ if exc is not None else str(status)
            log.warning("malformed request from %s refused: %s", request.remote, reason)
            error = InvalidRequest(hint="The request could not be parsed")
        if request.writer.output_size > 0:
            raise ConnectionError("an answer was under way: no error answer can follow")
        response = _Bare(
            status=status,
            body=orjson.dumps(error.body()),
            content_type="application/json",
            headers={**NO_STORE, "X-Content-Type-Options": "nosniff"},
        )
        response.force_close()
        return response


class _Server(web.Server):
    def __call__(self) -> RequestHandler:
        return _Handler(self, loop=self._loop, **self._kwargs)


class AppRunner(web.AppRunner):
    """web.AppRunner whose connections answer malformed requests as above."""

    async def _make_server(self) -> web.Server:
        server = await super()._make_server()
        return _Server(
            server.request_handler,
            request_factory=server.request_factory,
            handler_cancellation=server.handler_cancellation,
            loop=server._loop,
            **server._kwargs,
        )
