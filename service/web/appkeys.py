"""Typed application keys: the one place the web layer finds its collaborators. They are
the domain's services; the stores behind them are the app factory's business."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping

from aiohttp import web

from service.config import Settings
from service.oauth.accounts import AccountsView
from service.oauth.authorize import Authorizer
from service.oauth.bearer import BearerVerifier
from service.oauth.clients import ClientAuthenticator
from service.oauth.grants import TokenEndpoint
from service.oauth.introspection import TokenAdmin
from service.oauth.reload import KeyReloader
from service.oauth.sessions import LoginSessions
from service.oauth.tokens import TokenCodec

# A readiness check: one cheap round trip to a dependency, by its name.
Probes = Mapping[str, Callable[[], Awaitable[None]]]

SETTINGS = web.AppKey("settings", Settings)
TOKEN_ENDPOINT = web.AppKey("token_endpoint", TokenEndpoint)
BEARER = web.AppKey("bearer", BearerVerifier)
ACCOUNTS = web.AppKey("accounts", AccountsView)
CODEC = web.AppKey("codec", TokenCodec)
KEY_RELOADER = web.AppKey("key_reloader", KeyReloader)
CLIENTS = web.AppKey("clients", ClientAuthenticator)
TOKEN_ADMIN = web.AppKey("token_admin", TokenAdmin)
PROBES: web.AppKey[Probes] = web.AppKey("probes")
AUTHORIZER = web.AppKey("authorizer", Authorizer)
LOGIN_SESSIONS = web.AppKey("login_sessions", LoginSessions)
