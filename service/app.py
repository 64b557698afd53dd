"""The application factory: routes, middlewares, and one cleanup context per resource."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

from aiohttp import web

from service.config import Settings
from service.oauth.bearer import BearerVerifier
from service.oauth.clients import ClientAuthenticator
from service.oauth.grants import Issuer, PasswordGrant, TokenEndpoint
from service.oauth.keys import KeyRing
from service.oauth.passwords import Passwords
from service.oauth.tokens import TokenCodec
from service.store.clients import ClientRepository
from service.store.pg import create_pool
from service.store.tokens import TokenStore, create_redis
from service.store.users import UserRepository
from service.web import api, token
from service.web.appkeys import (
    BEARER,
    PASSWORDS,
    POOL,
    REDIS,
    SETTINGS,
    TOKEN_ENDPOINT,
    USERS,
)
from service.web.errors import errors_middleware

log = logging.getLogger(__name__)


async def postgres_ctx(app: web.Application) -> AsyncIterator[None]:
    app[POOL] = await create_pool(app[SETTINGS].database)
    try:
        yield
    finally:
        await app[POOL].close()


async def redis_ctx(app: web.Application) -> AsyncIterator[None]:
    app[REDIS] = await create_redis(app[SETTINGS].redis)
    try:
        yield
    finally:
        await app[REDIS].aclose()


async def domain_ctx(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    codec = TokenCodec(KeyRing.load(settings.tokens.keys_dir), settings.tokens)
    store = TokenStore(app[REDIS], settings.redis.key_prefix)
    users = UserRepository(app[POOL])
    app[PASSWORDS] = passwords = Passwords(settings.password_hashing)
    app[USERS] = users
    app[BEARER] = BearerVerifier(codec, store)
    issuer = Issuer(codec, store)
    app[TOKEN_ENDPOINT] = TokenEndpoint(
        ClientAuthenticator(ClientRepository(app[POOL])),
        [PasswordGrant(users, passwords, issuer)],
    )
    try:
        yield
    finally:
        passwords.close()


def create_app(settings: Settings) -> web.Application:
    app = web.Application(
        middlewares=[errors_middleware], client_max_size=settings.server.max_body_bytes
    )
    app[SETTINGS] = settings
    app.cleanup_ctx.extend([postgres_ctx, redis_ctx, domain_ctx])
    app.on_response_prepare.append(token.add_cors_headers)
    app.add_routes(token.routes())
    app.add_routes(api.routes(settings.api.backoffice_prefix))
    return app
