"""The application factory: routes, middlewares, and one cleanup context per resource."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from aiohttp import web

from service.config import Settings
from service.oauth.bearer import BearerVerifier
from service.oauth.clients import ClientAuthenticator
from service.oauth.grants import (
    ClientCredentialsGrant,
    PasswordGrant,
    RefreshTokenGrant,
    TokenEndpoint,
)
from service.oauth.keys import KeyRing
from service.oauth.owners import Owners
from service.oauth.passwords import Passwords
from service.oauth.tokens import TokenCodec
from service.store.clients import ClientRepository
from service.store.customers import CustomerUserRepository, VisitorRepository
from service.store.errors import StoreError
from service.store.pg import create_pool
from service.store.tokens import TokenStore, create_redis
from service.store.users import UserRepository
from service.web import api, storefront, token
from service.web.appkeys import (
    BEARER,
    CUSTOMERS,
    PASSWORDS,
    POOL,
    REDIS,
    SETTINGS,
    TOKEN_ENDPOINT,
    USERS,
    VISITORS,
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


def visitor_lifetime(settings: Settings) -> int:
    """How long a visitor row (and an index entry) must outlive its newest token."""
    tokens = settings.tokens
    return max(tokens.access_token_lifetime, tokens.refresh_token_lifetime) + tokens.leeway


async def domain_ctx(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    codec = TokenCodec(KeyRing.load(settings.tokens.keys_dir), settings.tokens)
    store = TokenStore(app[REDIS], settings.redis.key_prefix, visitor_lifetime(settings))
    app[PASSWORDS] = passwords = Passwords(settings.password_hashing)
    app[USERS] = users = UserRepository(app[POOL])
    app[CUSTOMERS] = customers = CustomerUserRepository(app[POOL])
    app[VISITORS] = visitors = VisitorRepository(app[POOL])
    app[BEARER] = BearerVerifier(codec, store)
    owners = Owners(users, customers, visitors, passwords, visitor_lifetime(settings))
    app[TOKEN_ENDPOINT] = TokenEndpoint(
        ClientAuthenticator(ClientRepository(app[POOL])),
        [
            PasswordGrant(owners, codec, store),
            RefreshTokenGrant(owners, codec, store),
            ClientCredentialsGrant(owners, codec, store),
        ],
    )
    try:
        yield
    finally:
        passwords.close()


async def _cleanup_visitors(visitors: VisitorRepository, interval: int) -> None:
    while True:
        await asyncio.sleep(interval)
        try:
            deleted = await visitors.delete_expired()
        except StoreError as exc:
            log.warning("visitor cleanup skipped: %s", exc)
        else:
            log.info("visitor cleanup removed %d rows", deleted)


async def cleanup_ctx(app: web.Application) -> AsyncIterator[None]:
    interval = app[SETTINGS].maintenance.cleanup_interval
    task = asyncio.create_task(_cleanup_visitors(app[VISITORS], interval)) if interval else None
    try:
        yield
    finally:
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


def create_app(settings: Settings) -> web.Application:
    app = web.Application(
        middlewares=[errors_middleware], client_max_size=settings.server.max_body_bytes
    )
    app[SETTINGS] = settings
    app.cleanup_ctx.extend([postgres_ctx, redis_ctx, domain_ctx, cleanup_ctx])
    app.on_response_prepare.append(token.add_cors_headers)
    app.add_routes(token.routes())
    app.add_routes(api.routes(settings.api.backoffice_prefix))
    app.add_routes(storefront.routes(settings.api.storefront_prefix))
    return app
