"""Typed application keys: the one place the web layer finds its collaborators."""

from __future__ import annotations

import asyncpg
from aiohttp import web

from service.config import Settings
from service.oauth.bearer import BearerVerifier
from service.oauth.clients import ClientAuthenticator
from service.oauth.grants import TokenEndpoint
from service.oauth.introspection import TokenAdmin
from service.oauth.passwords import Passwords
from service.oauth.reload import KeyReloader
from service.oauth.tokens import TokenCodec
from service.store.customers import CustomerUserRepository, VisitorRepository
from service.store.topology import RedisClient
from service.store.users import UserRepository

SETTINGS = web.AppKey("settings", Settings)
POOL = web.AppKey("pool", asyncpg.Pool)
REDIS: web.AppKey[RedisClient] = web.AppKey("redis")
PASSWORDS = web.AppKey("passwords", Passwords)
TOKEN_ENDPOINT = web.AppKey("token_endpoint", TokenEndpoint)
BEARER = web.AppKey("bearer", BearerVerifier)
USERS = web.AppKey("users", UserRepository)
CUSTOMERS = web.AppKey("customers", CustomerUserRepository)
VISITORS = web.AppKey("visitors", VisitorRepository)
CODEC = web.AppKey("codec", TokenCodec)
KEY_RELOADER = web.AppKey("key_reloader", KeyReloader)
CLIENTS = web.AppKey("clients", ClientAuthenticator)
TOKEN_ADMIN = web.AppKey("token_admin", TokenAdmin)
