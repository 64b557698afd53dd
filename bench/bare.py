"""The bare-handler ceiling: aiohttp on uvloop answering a constant, N forked workers on one
port with SO_REUSEPORT, as `serve --workers N` runs the service. No middleware, no access
log: whatever the service does per request costs on top of this.

    python -m bench.bare --port 8081 --workers 2"""

from __future__ import annotations

import argparse
import multiprocessing
import multiprocessing.connection
import os
import signal

import uvloop
from aiohttp import web

BODY = b'{"ok":true}'


async def constant(request: web.Request) -> web.Response:
    return web.Response(body=BODY, content_type="application/json")


def serve(port: int) -> None:
    uvloop.install()
    app = web.Application()
    app.router.add_get("/", constant)
    web.run_app(app, host="127.0.0.1", port=port, reuse_port=True, access_log=None, print=None)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.bare")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    fork = multiprocessing.get_context("fork")
    workers = [fork.Process(target=serve, args=(args.port,)) for _ in range(args.workers)]
    for worker in workers:
        worker.start()

    def stop(signum: int, frame: object) -> None:
        for worker in workers:
            if worker.is_alive() and worker.pid:
                os.kill(worker.pid, signal.SIGTERM)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    multiprocessing.connection.wait([w.sentinel for w in workers])
    stop(signal.SIGTERM, None)
    for worker in workers:
        worker.join()


if __name__ == "__main__":
    main()
