"""Scopes as Oro takes them: whatever a client asks for (`scope`, space separated) is
granted and carried in the token, unless the client is limited to a list; a refresh may
keep or narrow its login's scopes, never widen them (league's RefreshTokenGrant)."""

from __future__ import annotations

import re
from collections.abc import Mapping

from service.oauth.entities import Client
from service.oauth.errors import InvalidRequest, InvalidScope
from service.oauth.model import ADMIN_SCOPE

MAX_SCOPE = 4096  # characters of the `scope` parameter
_SCOPE_TOKEN = re.compile(r"[\x21\x23-\x5b\x5d-\x7e]+")  # RFC 6749 §3.3 scope-token


def parse(raw: str) -> tuple[str, ...]:
    """The scopes of a `scope` value, each once, in order; an empty value is none."""
    if len(raw) > MAX_SCOPE:
        raise InvalidRequest.parameter("scope")
    scopes = tuple(dict.fromkeys(s for s in raw.split(" ") if s))
    for scope in scopes:
        if not _SCOPE_TOKEN.fullmatch(scope):
            raise InvalidScope(scope)
    return scopes


def _allowed(client: Client, scopes: tuple[str, ...]) -> tuple[str, ...]:
    if client.scopes is not None:
        for scope in scopes:
            if scope not in client.scopes:
                raise InvalidScope(scope)
    return scopes


def granted(client: Client, params: Mapping[str, str]) -> tuple[str, ...]:
    """The scopes a new login gets: those requested, if the client may have them. The admin
    API's scope is never asked for: only an admin client's client_credentials tokens carry
    it, given by the grant."""
    scopes = parse(params.get("scope", ""))
    if ADMIN_SCOPE in scopes:
        raise InvalidScope(ADMIN_SCOPE)
    return _allowed(client, scopes)


def refreshed(
    client: Client, params: Mapping[str, str], original: tuple[str, ...]
) -> tuple[str, ...]:
    """The scopes of a refreshed pair: the login's, or those requested among them."""
    if "scope" not in params:
        return _allowed(client, original)
    scopes = parse(params["scope"])
    for scope in scopes:
        if scope not in original:
            raise InvalidScope(scope)
    return _allowed(client, scopes)
