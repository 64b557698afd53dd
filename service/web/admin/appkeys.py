"""Typed application keys of the admin listener's app."""

from __future__ import annotations

from aiohttp import web

from service.admin.stores import Stores
from service.oauth.bearer import BearerVerifier
from service.oauth.passwords import Passwords

STORES = web.AppKey("admin_stores", Stores)
PASSWORDS = web.AppKey("admin_passwords", Passwords)
VERIFIER = web.AppKey("admin_verifier", BearerVerifier)
# Who is calling, for the audit log: "local" on a loopback listener without a token, else
# "client:<client_id>" of the admin client whose token it presented.
BY = web.RequestKey("admin_by", str)
