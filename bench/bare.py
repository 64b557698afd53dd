"""The bare-handler ceilings: aiohttp on uvloop, N forked workers on one port with
SO_REUSEPORT, no middleware, no access log, no metrics.

Without --config a handler answers a constant: whatever the service does per request costs
on top of that. With --config the handlers also do the I/O of two service endpoints, through
the service's own stores and token codec, and nothing else:

* GET /api/users/{id}: the JWT check of a bearer token (TokenCodec.read_access, with its
  cache of verified tokens, as the service has it), its Redis check (TokenStore.is_live:
  one script call) and the Postgres query for the user (UserRepository.get), then the
  JSON:API document;
* POST /introspect: the form body, HTTP Basic and the client's secret digest (the client's
  row cached, as the service caches it), the same JWT check and Redis check, then the
  answer.

So the service's ratio to them is what its web layer (middlewares, admission, negotiation,
logging, metrics, error handling) costs over the work no implementation can skip.

    python -m bench.bare --port 8081 --workers 2 [--config generated.yml --client ID]"""

from __future__ import annotations

import argparse
import base64
import hmac
import multiprocessing
import multiprocessing.connection
import os
import signal
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

import orjson
import uvloop
from aiohttp import web

from service.config import load
from service.oauth.clients import digest
from service.oauth.errors import InvalidToken
from service.oauth.keys import KeyRing
from service.oauth.model import Audience
from service.oauth.tokens import TokenCodec
from service.store.clients import ClientRepository
from service.store.pg import create_pool
from service.store.tokens import TokenStore
from service.store.topology import close, create_redis
from service.store.users import UserRepository
from service.web.api import user_resource

BODY = b'{"ok":true}'
JSONAPI = "application/vnd.api+json"


async def constant(request: web.Request) -> web.Response:
    return web.Response(body=BODY, content_type="application/json")


@dataclass
class IO:
    codec: TokenCodec
    store: TokenStore
    users: UserRepository
    client_id: str
    digest: bytes


IO_KEY = web.AppKey("io", IO)


def io_context(config: Path, client_id: str) -> Callable[[web.Application], AsyncIterator[None]]:
    async def ctx(app: web.Application) -> AsyncIterator[None]:
        settings = load(config, env={})
        tokens = settings.tokens
        pool = await create_pool(settings.database)
        redis = await create_redis(settings.redis)
        client = await ClientRepository(pool).get(client_id)
        assert client is not None and client.secret_digest is not None
        app[IO_KEY] = IO(
            TokenCodec(KeyRing.load(tokens.keys_dir, tokens.key_activation_delay), tokens),
            TokenStore.configured(redis, settings),
            UserRepository(pool),
            client_id,
            client.secret_digest,
        )
        try:
            yield
        finally:
            await close(redis)
            await pool.close()

    return ctx


async def api_user(request: web.Request) -> web.Response:
    io = request.app[IO_KEY]
    token = request.headers.get("Authorization", "")[7:]
    try:
        claims = io.codec.read_access(token)
    except InvalidToken:
        raise web.HTTPUnauthorized() from None
    if claims.audience is not Audience.BACKOFFICE or not await io.store.is_live(claims):
        raise web.HTTPUnauthorized()
    user = await io.users.get(int(request.match_info["id"]))
    if user is None:
        raise web.HTTPNotFound()
    return web.Response(body=orjson.dumps({"data": user_resource(user)}), content_type=JSONAPI)


async def introspect(request: web.Request) -> web.Response:
    io = request.app[IO_KEY]
    form = await request.post()
    encoded = request.headers.get("Authorization", "").partition(" ")[2]
    client_id, _, secret = base64.b64decode(encoded).decode().partition(":")
    if client_id != io.client_id or not hmac.compare_digest(digest(secret), io.digest):
        raise web.HTTPUnauthorized()
    try:
        claims = io.codec.read(str(form["token"]))
    except InvalidToken:
        return web.json_response({"active": False})
    if not await io.store.is_live(claims):
        return web.json_response({"active": False})
    answer = {
        "active": True,
        "scope": " ".join(claims.scopes),
        "client_id": claims.client_id,
        "sub": claims.subject.claim,
        "exp": claims.expires_at,
        "iat": claims.issued_at,
        "jti": claims.jti,
    }
    return web.Response(body=orjson.dumps(answer), content_type="application/json")


def serve(port: int, config: Path | None, client_id: str) -> None:
    uvloop.install()
    app = web.Application()
    app.router.add_get("/", constant)
    if config is not None:
        app.cleanup_ctx.append(io_context(config, client_id))
        app.router.add_get("/api/users/{id}", api_user)
        app.router.add_post("/introspect", introspect)
    web.run_app(app, host="127.0.0.1", port=port, reuse_port=True, access_log=None, print=None)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.bare")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--config", type=Path, help="the service's config: the I/O handlers")
    parser.add_argument("--client", default="", help="the client introspection authenticates")
    args = parser.parse_args()
    fork = multiprocessing.get_context("fork")
    workers = [
        fork.Process(target=serve, args=(args.port, args.config, args.client))
        for _ in range(args.workers)
    ]
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
