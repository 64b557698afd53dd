"""Running the HTTP server: one process or N workers on one port."""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import multiprocessing.connection
import os
import shutil
import signal
import tempfile
from pathlib import Path

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger

from service import metrics
from service.app import create_admin_app, create_app
from service.config import Settings
from service.oauth.keys import KeyRing
from service.web import metrics as metrics_web
from service.web.protocol import AppRunner

log = logging.getLogger("service")


class AccessLogger(AbstractAccessLogger):
    """Method, path and status only: a query string may carry a token or a password."""

    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        self.logger.info(
            '%s "%s %s" %s %.1fms',
            request.remote,
            request.method,
            request.path,
            response.status,
            time * 1000,
        )


def _serve_one(settings: Settings, reuse_port: bool) -> None:
    try:
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    except ImportError:
        pass
    server = settings.server
    main = create_app(settings)
    listeners = [(main, server.host, server.port)]
    if settings.metrics.port:
        host = settings.metrics.host or server.host
        listeners.append((metrics_web.listener_app(settings), host, settings.metrics.port))
    if settings.admin.port:
        listeners.append((create_admin_app(main), settings.admin.host, settings.admin.port))
    # web.run_app, but with the runner of service.web.protocol (malformed requests).
    asyncio.run(_run(listeners, reuse_port))


async def _run(listeners: list[tuple[web.Application, str, int]], reuse_port: bool) -> None:
    """Serve until SIGTERM or SIGINT, then stop accepting, let the requests in flight finish
    (runner.cleanup) and close the app's resources."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    runners: list[AppRunner] = []
    try:
        for app, host, port in listeners:
            runner = AppRunner(app, access_log_class=AccessLogger)
            runners.append(runner)
            await runner.setup()
            await web.TCPSite(runner, host, port, reuse_port=reuse_port).start()
        await stop.wait()
    finally:
        # The last started first: the admin API uses the main app's pool and Redis.
        for runner in reversed(runners):
            await runner.cleanup()


def serve(settings: Settings) -> None:
    """One process, or N forked workers each listening with SO_REUSEPORT (the kernel spreads
    connections). If a worker dies the others are stopped too, so a supervisor sees it."""
    # Before any worker starts: a bad keys folder is one `error:` line (KeyFileError), not
    # a traceback from each worker.
    KeyRing.load(settings.tokens.keys_dir, settings.tokens.key_activation_delay)
    workers = settings.server.workers or os.cpu_count() or 1
    given = os.environ.get(metrics.MULTIPROC_ENV)
    if workers == 1 and not given:
        _serve_one(settings, reuse_port=False)
        return
    # Metrics of all workers, summed by whichever worker answers /metrics.
    folder = Path(given or tempfile.mkdtemp(prefix="oauth-metrics-"))
    metrics.use_directory(folder)
    try:
        _serve_forked(settings, workers)
    finally:
        if not given:
            shutil.rmtree(folder, ignore_errors=True)


def _serve_forked(settings: Settings, workers: int) -> None:
    if workers == 1:
        _serve_one(settings, reuse_port=False)
        return
    fork = multiprocessing.get_context("fork")
    children = [fork.Process(target=_serve_one, args=(settings, True)) for _ in range(workers)]
    for child in children:
        child.start()

    def stop(signum: int, frame: object) -> None:
        for child in children:
            if child.is_alive():
                os.kill(child.pid or 0, signal.SIGTERM)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    log.info(
        "serving on %s:%d with %d workers", settings.server.host, settings.server.port, workers
    )
    sentinels = {child.sentinel: child for child in children}
    multiprocessing.connection.wait(list(sentinels))
    stop(signal.SIGTERM, None)
    for child in children:
        child.join()
    failed = [c.exitcode for c in children if c.exitcode not in (0, -signal.SIGTERM)]
    if failed:
        raise SystemExit(1)
