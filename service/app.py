"""The application factory: routes, middlewares, and one cleanup context per resource."""

from __future__ import annotations

import asyncio
import gc
import logging
import os
from collections.abc import AsyncIterator, Awaitable, Callable

import asyncpg
from aiohttp import web

from service.admin import maintenance
from service.admin.stores import Stores
from service.config import Settings
from service.oauth.accounts import AccountsView
from service.oauth.authorize import Authorizer
from service.oauth.bearer import BearerVerifier
from service.oauth.clients import ClientAuthenticator
from service.oauth.codes import AuthorizationCodeGrant
from service.oauth.grants import (
    ClientCredentialsGrant,
    Issuer,
    PasswordGrant,
    RefreshTokenGrant,
    TokenEndpoint,
)
from service.oauth.introspection import TokenAdmin
from service.oauth.keys import KeyFileError, KeyRing
from service.oauth.owners import Owners
from service.oauth.passwords import Passwords
from service.oauth.protection import Guard
from service.oauth.reload import KeyReloader
from service.oauth.retries import RetryWindow
from service.oauth.revocations import Revocations
from service.oauth.sessions import LoginSessions
from service.oauth.tokens import TokenCodec
from service.store.clients import ClientRepository
from service.store.codes import CodeStore, SessionStore
from service.store.customers import CustomerUserRepository, VisitorRepository
from service.store.errors import StoreError
from service.store.health import ping_postgres, ping_redis
from service.store.limits import LimitStore
from service.store.pg import create_pool
from service.store.revocations import RevocationRepository
from service.store.tokens import TokenStore
from service.store.topology import RedisClient, create_redis
from service.store.topology import close as close_redis
from service.store.users import UserRepository
from service.web import (
    api,
    authorize,
    discovery,
    health,
    lifecycle,
    metrics,
    middleware,
    openapi,
    pages,
    storefront,
    token,
)
from service.web.admin import accounts as admin_accounts
from service.web.admin import clients as admin_clients
from service.web.admin import openapi as admin_openapi
from service.web.admin import signing as admin_keys
from service.web.admin.appkeys import PASSWORDS as ADMIN_PASSWORDS
from service.web.admin.appkeys import STORES as ADMIN_STORES
from service.web.admin.appkeys import VERIFIER as ADMIN_VERIFIER
from service.web.admin.guard import admin_middleware
from service.web.appkeys import (
    ACCOUNTS,
    AUTHORIZER,
    BEARER,
    CLIENTS,
    CODEC,
    KEY_RELOADER,
    LOGIN_SESSIONS,
    PROBES,
    SETTINGS,
    TOKEN_ADMIN,
    TOKEN_ENDPOINT,
)
from service.web.errors import errors_middleware

log = logging.getLogger(__name__)

# The resources: the factory's own, handed to the web layer only as domain services.
POOL = web.AppKey("pool", asyncpg.Pool)
REDIS: web.AppKey[RedisClient] = web.AppKey("redis")
PASSWORDS = web.AppKey("passwords", Passwords)
VISITORS = web.AppKey("visitors", VisitorRepository)


async def postgres_ctx(app: web.Application) -> AsyncIterator[None]:
    app[POOL] = await create_pool(app[SETTINGS].database, require=False)
    try:
        yield
    finally:
        await app[POOL].close()


async def redis_ctx(app: web.Application) -> AsyncIterator[None]:
    app[REDIS] = redis = await create_redis(app[SETTINGS].redis, require=False)
    app[PROBES] = {"postgres": lambda: ping_postgres(app[POOL]), "redis": lambda: ping_redis(redis)}
    try:
        yield
    finally:
        await close_redis(app[REDIS])


async def domain_ctx(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    tokens = settings.tokens
    codec = TokenCodec(KeyRing.load(tokens.keys_dir, tokens.key_activation_delay), tokens)
    app[CODEC] = codec
    app[KEY_RELOADER] = KeyReloader(codec, tokens.keys_dir, tokens.key_activation_delay)
    store = TokenStore.configured(app[REDIS], settings)
    workers = settings.server.workers or os.cpu_count() or 1
    app[PASSWORDS] = passwords = Passwords(settings.password_hashing, workers)
    users = UserRepository(app[POOL])
    customers = CustomerUserRepository(app[POOL])
    app[VISITORS] = visitors = VisitorRepository(app[POOL])
    app[ACCOUNTS] = AccountsView(users, customers, visitors)
    app[BEARER] = bearer = BearerVerifier(codec, store)
    owners = Owners((users, customers), visitors, passwords, tokens.visitor_lifetime)
    guard = Guard(LimitStore(app[REDIS], settings.redis.key_prefix), settings.protection)
    app[CLIENTS] = clients = ClientAuthenticator(ClientRepository(app[POOL]))
    revocations = Revocations(
        store, RevocationRepository(app[POOL]), visitors, tokens.longest_lifetime
    )
    app[TOKEN_ADMIN] = TokenAdmin(codec, store, revocations)
    issuer = Issuer(owners, codec, store)
    prefix = settings.redis.key_prefix
    codes = CodeStore(app[REDIS], prefix)
    app[TOKEN_ENDPOINT] = TokenEndpoint(
        clients,
        [
            PasswordGrant(owners, issuer, guard),
            RefreshTokenGrant(
                owners, codec, store, revocations, RetryWindow(tokens.refresh_reuse_interval)
            ),
            ClientCredentialsGrant(owners, issuer),
            AuthorizationCodeGrant(codes, issuer, revocations),
        ],
        guard,
    )
    app[AUTHORIZER] = Authorizer(
        clients, codes, owners, visitors, bearer, guard, tokens.auth_code_lifetime
    )
    app[LOGIN_SESSIONS] = LoginSessions(
        SessionStore(app[REDIS], prefix), settings.authorize.session_lifetime
    )
    try:
        yield
    finally:
        passwords.close()


async def _every(interval: int, job: Callable[[], Awaitable[None]], name: str) -> None:
    while True:
        await asyncio.sleep(interval)
        try:
            await job()
        except (StoreError, KeyFileError) as exc:
            log.warning("%s skipped: %s", name, exc)
        except Exception:
            # Whatever it was, the loop goes on: a job that stopped for good (a key reload:
            # a retired key would keep signing) is worse than one that failed once.
            log.exception("%s failed; next try in %d s", name, interval)


async def periodic_ctx(app: web.Application) -> AsyncIterator[None]:
    """Background upkeep: visitor cleanup and key reloads, each off when its interval is 0."""
    settings = app[SETTINGS]

    async def cleanup() -> None:
        cleaned = await maintenance.cleanup(app[POOL])
        log.info(
            "cleanup removed %d visitors, %d revoked logins",
            cleaned.deleted_visitors,
            cleaned.deleted_revoked_logins,
        )

    jobs = [
        (settings.maintenance.cleanup_interval, cleanup, "visitor cleanup"),
        (settings.tokens.keys_reload_interval, app[KEY_RELOADER].reload, "key reload"),
    ]
    tasks = [asyncio.create_task(_every(i, job, name)) for i, job, name in jobs if i]
    try:
        yield
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def freeze_heap(app: web.Application) -> None:
    """Once started, move every object there is so far (modules, pools, keys: tens of
    thousands, none of them garbage) out of the collector's sight, so a full collection
    walks only what requests made: without it one can stall the loop for tens of ms."""
    gc.collect()
    gc.freeze()


def create_app(settings: Settings) -> web.Application:
    app = web.Application(
        middlewares=[errors_middleware], client_max_size=settings.server.max_body_bytes
    )
    app[SETTINGS] = settings
    app.cleanup_ctx.extend([postgres_ctx, redis_ctx, domain_ctx, periodic_ctx])
    app.on_startup.append(freeze_heap)  # after the cleanup contexts have set everything up
    app.on_response_prepare.append(token.add_cors_headers)
    middleware.setup(app)
    metrics.setup(app)
    app.add_routes(health.routes())
    app.add_routes(token.routes())
    app.add_routes(lifecycle.routes())
    app.add_routes(discovery.routes())
    app.add_routes(openapi.routes())
    pages.setup(app)
    app.add_routes(authorize.routes(settings.authorize.backoffice_prefix))
    app.add_routes(api.routes(settings.api.backoffice_prefix))
    app.add_routes(storefront.routes(settings.api.storefront_prefix))
    return app


def create_admin_app(main: web.Application) -> web.Application:
    """The admin API's app (admin.host, admin.port). It runs beside `main`, started after
    it and stopped before it, and uses main's pool, Redis and hasher."""
    app = web.Application(middlewares=[admin_middleware], client_max_size=64 * 1024)
    app[SETTINGS] = settings = main[SETTINGS]

    async def share(app: web.Application) -> None:
        app[ADMIN_STORES] = Stores.configured(main[POOL], main[REDIS], settings)
        app[ADMIN_PASSWORDS] = main[PASSWORDS]
        app[ADMIN_VERIFIER] = main[BEARER]

    app.on_startup.append(share)
    app.add_routes(admin_clients.routes())
    app.add_routes(admin_accounts.routes())
    app.add_routes(admin_keys.routes())
    app.add_routes(admin_openapi.routes())
    return app
