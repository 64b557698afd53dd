"""The workers run under gunicorn (driven from here, not from its command line) with aiohttp's
uvloop worker: gunicorn owns the listening socket, replaces a worker that dies or has served
`server.max_requests`, and on SIGTERM stops accepting, lets every worker finish what it was
answering within `server.graceful_timeout`, then exits 0.

The worker is aiohttp's, with these of ours: its runner is service.web.protocol's AppRunner
(league's 400 for what aiohttp's parser refuses), it serves the metrics listener when
`metrics.port` is set and the admin API when `admin.port` is, and Prometheus' multiprocess
mode forgets a dead worker's live gauges (child_exit)."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger
from aiohttp.worker import GunicornUVLoopWebWorker
from gunicorn import glogging
from gunicorn.app.base import BaseApplication
from prometheus_client import multiprocess

from service.app import create_admin_app, create_app
from service.config import Settings
from service.web import metrics as metrics_web
from service.web.protocol import AppRunner

log = logging.getLogger("service")


def drain_timeout(grace: float) -> float:
    """How long a stopping worker waits for the requests it is answering (then cancels them).
    The rest of the grace closes its pools before gunicorn's SIGKILL: a few seconds, or a
    fifth of a short grace."""
    return max(grace - 5, grace * 0.8)


class Worker(GunicornUVLoopWebWorker):
    """aiohttp's uvloop worker building its runner from our app and AppRunner."""

    app: Supervisor
    sockets: list[Any]  # gunicorn's listeners, set by its Worker.__init__

    def load_wsgi(self) -> None:
        # aiohttp's worker awaits a coroutine function and serves the runner it returns.
        self.wsgi = self._runner
        # The sockets themselves, not gunicorn's wrappers: the event loop closes them when
        # the worker stops, and a wrapper closed again logs "Error while closing socket".
        self.sockets = [getattr(s, "sock", s) for s in self.sockets]

    def handle_exit(self, sig: int, frame: Any) -> None:
        # aiohttp's worker wakes its loop at once on SIGQUIT only: on SIGTERM it noticed at
        # its next heartbeat, up to a second later, accepting new connections meanwhile.
        super().handle_exit(sig, frame)
        self._notify_waiter_done()

    async def _runner(self) -> web.AppRunner:
        settings = self.app.settings
        main = create_app(settings)
        if settings.admin.port:
            self._beside(main, create_admin_app(main), settings.admin.host, settings.admin.port)
        return AppRunner(
            main, **self._logged(), shutdown_timeout=drain_timeout(settings.server.graceful_timeout)
        )

    def _logged(self) -> dict[str, Any]:
        """A runner's access log: ours, or none (logging.access: false)."""
        if not self.app.settings.logging.access:
            return {"access_log": None}
        return {"access_log_class": self.app.access_log_class}

    def _beside(self, main: web.Application, app: web.Application, host: str, port: int) -> None:
        """Serve `app` on a listener of its own (every worker binds it, SO_REUSEPORT) for as
        long as `main`'s resources are open, which `app` uses: started once main's are, it
        drains alongside main's requests and is done before main closes them."""
        runner = AppRunner(
            app,
            **self._logged(),
            shutdown_timeout=drain_timeout(self.app.settings.server.graceful_timeout),
        )
        stopping: list[asyncio.Task[None]] = []

        async def start(_: web.Application) -> None:
            await runner.setup()
            await web.TCPSite(runner, host, port, reuse_port=True).start()

        async def stop(_: web.Application) -> None:  # main stopped accepting: drain both
            stopping.append(asyncio.create_task(runner.cleanup()))

        async def stopped(_: web.Application) -> None:
            if stopping:
                await stopping[0]
            else:  # main's startup failed after ours
                await runner.cleanup()

        main.on_startup.append(start)  # after main's cleanup contexts opened its resources
        main.on_shutdown.append(stop)
        main.on_cleanup.insert(0, stopped)  # before main's cleanup contexts close them

    async def _run(self) -> None:
        """The metrics listener around the main one: opened first, closed last (a stopping
        worker can still be scraped). Every worker binds it with SO_REUSEPORT."""
        settings = self.app.settings
        metrics_runner = None
        try:
            if settings.metrics.port:
                metrics_runner = AppRunner(metrics_web.listener_app(settings), **self._logged())
                await metrics_runner.setup()
                host = settings.metrics.host or settings.server.host
                await web.TCPSite(
                    metrics_runner, host, settings.metrics.port, reuse_port=True
                ).start()
            await super()._run()
        finally:
            if metrics_runner is not None:
                await metrics_runner.cleanup()


class Log(glogging.Logger):  # type: ignore[misc]
    """gunicorn's own lines (a worker booting, exiting, timing out; signals) go to the root
    logger, as one JSON line each like the service's, not through gunicorn's text handler."""

    def setup(self, cfg: Any) -> None:
        super().setup(cfg)
        for logger in (self.error_log, self.access_log):
            logger.handlers.clear()
            logger.propagate = True


def _child_exit(server: Any, worker: Any) -> None:
    # A dead worker's counters stay summed; its live gauges must not (the keys-reload
    # gauge would show its last reload forever).
    multiprocess.mark_process_dead(worker.pid)  # type: ignore[no-untyped-call]


class Supervisor(BaseApplication):  # type: ignore[misc]
    """gunicorn's arbiter over `workers` processes of Worker, configured from settings."""

    def __init__(
        self, settings: Settings, access_log_class: type[AbstractAccessLogger], workers: int
    ) -> None:
        self.settings, self.access_log_class, self.workers = settings, access_log_class, workers
        super().__init__()

    def load_config(self) -> None:
        server = self.settings.server
        host = f"[{server.host}]" if ":" in server.host else server.host
        options: dict[str, Any] = {
            "bind": [f"{host}:{server.port}"],
            "workers": self.workers,
            "worker_class": Worker,
            "graceful_timeout": server.graceful_timeout,
            # The heartbeat: a worker silent this long is killed. A stopping worker (after
            # max_requests) is silent while it drains, so never before its grace ends.
            "timeout": server.graceful_timeout + 10,
            "max_requests": server.max_requests,
            # Workers started together do not all restart at once.
            "max_requests_jitter": server.max_requests // 10,
            "logger_class": Log,
            "accesslog": None,  # the runner's AccessLogger writes the access lines
            "child_exit": _child_exit,
            "proc_name": "oauth-token-service",
            # gunicornc's socket would be one path shared by every instance on the host.
            "control_socket_disable": True,
        }
        for key, value in options.items():
            self.cfg.set(key, value)

    def load(self) -> Settings:
        return self.settings  # unused: Worker.load_wsgi builds the runner


def run(settings: Settings, access_log_class: type[AbstractAccessLogger], workers: int) -> None:
    log.info(
        "serving on %s:%d with %d workers", settings.server.host, settings.server.port, workers
    )
    Supervisor(settings, access_log_class, workers).run()
