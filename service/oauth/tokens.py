"""Minting and reading the JWTs. Access and refresh tokens differ in their `typ` header,
so neither is ever accepted as the other."""

from __future__ import annotations

import functools
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from joserfc import jwt
from joserfc.errors import JoseError

from service.config import TokenSettings
from service.oauth.errors import InvalidToken
from service.oauth.keys import KeyRing, algorithm
from service.store.tokens import TokenRecord

ACCESS_TYP = "at+jwt"  # RFC 9068
REFRESH_TYP = "rt+jwt"
REALMS = ("backoffice", "storefront")
# Verified tokens kept per process: a client presents the same bearer token many times, and
# checking its RS256 signature and claims costs more than the rest of an API call.
VERIFIED_CACHE_SIZE = 4096


def new_id() -> str:
    """128 random bits, URL-safe."""
    return secrets.token_urlsafe(16)


@dataclass(frozen=True)
class Issued:
    subject: str
    access_token: str
    refresh_token: str | None
    expires_in: int
    access: TokenRecord
    refresh: TokenRecord | None


@dataclass(frozen=True)
class Claims:
    """A verified token's claims that the service acts on."""

    client_id: str
    subject: str
    realm: str
    family: str
    jti: str
    scopes: tuple[str, ...]
    issued_at: int
    expires_at: int
    # The owner's token generation at login (0 for guests, and for tokens from before
    # generations): a refresh of a token older than the owner's is refused.
    generation: int = 0


class TokenCodec:
    def __init__(
        self, keys: KeyRing, settings: TokenSettings, clock: Callable[[], float] = time.time
    ) -> None:
        self._settings = settings
        self._clock = clock
        self._registry = jwt.JWTClaimsRegistry(
            now=lambda: int(self._clock()),
            leeway=settings.leeway,
            iss={"essential": True, "value": settings.issuer},
            exp={"essential": True},
            nbf={"essential": True},
            iat={"essential": True},
        )
        self.use(keys)

    @property
    def issuer(self) -> str:
        return self._settings.issuer

    @property
    def keys(self) -> KeyRing:
        return self._keys

    def use(self, keys: KeyRing) -> None:
        """Switch to a reloaded key ring (rotation without a restart)."""
        self._keys = keys
        self._keyset = keys.keyset
        self._algorithms = keys.algorithms
        # token -> (typ, claims, nbf) for tokens whose signature verified with these keys.
        # Cleared with every key change, so a retired key's tokens stop verifying at once.
        self._verified: dict[str, tuple[str, Claims, int]] = {}

    def mint(
        self,
        client_id: str,
        subject: str,
        realm: str,
        *,
        family: str | None = None,
        scopes: tuple[str, ...] = (),
        with_refresh: bool = True,
        generation: int = 0,
        guest: bool = False,
    ) -> Issued:
        """A new pair (or only an access token); a guest's refresh token lives
        `guest_refresh_token_lifetime`."""
        now = int(self._clock())
        family = family or new_id()
        access_life = self._settings.access_token_lifetime
        access = TokenRecord(family, new_id(), access_life)
        sign = functools.partial(self._sign, client_id, subject, realm, scopes, generation, now)
        access_token = sign(ACCESS_TYP, access)
        refresh = refresh_token = None
        if with_refresh:
            settings = self._settings
            life = (
                settings.guest_refresh_token_lifetime if guest else settings.refresh_token_lifetime
            )
            refresh = TokenRecord(family, new_id(), life)
            refresh_token = sign(REFRESH_TYP, refresh)
        return Issued(subject, access_token, refresh_token, access_life, access, refresh)

    def _sign(
        self,
        client_id: str,
        subject: str,
        realm: str,
        scopes: tuple[str, ...],
        generation: int,
        now: int,
        typ: str,
        record: TokenRecord,
    ) -> str:
        key = self._keys.signing_at(now)
        alg = algorithm(key)
        header = {"alg": alg, "kid": key.kid, "typ": typ}
        claims = {
            "iss": self._settings.issuer,
            "aud": client_id,
            "jti": record.jti,
            "iat": now,
            "nbf": now,
            "exp": now + record.ttl,
            "sub": subject,
            "scopes": list(scopes),
            "fid": record.family,
            "realm": realm,
            "gen": generation,
        }
        return jwt.encode(header, claims, key, algorithms=[alg])

    def read_access(self, token: str) -> Claims:
        return self._read(token, ACCESS_TYP)

    def read_refresh(self, token: str) -> Claims:
        return self._read(token, REFRESH_TYP)

    def read(self, token: str) -> tuple[str, Claims]:
        """A token of either type, and its type (ACCESS_TYP or REFRESH_TYP)."""
        typ, claims, not_before = self._verified_once(token)
        return typ, self._in_time(claims, not_before)

    def _read(self, token: str, typ: str) -> Claims:
        token_typ, claims, not_before = self._verified_once(token)
        if token_typ != typ:
            raise InvalidToken("wrong token type")
        return self._in_time(claims, not_before)

    def _verified_once(self, token: str) -> tuple[str, Claims, int]:
        verified = self._verified.get(token)
        if verified is None:
            verified = self._verify(token)
            # A refresh token is good for one use: caching it would only push out access
            # tokens, which come back with every API call.
            if verified[0] == ACCESS_TYP:
                if len(self._verified) >= VERIFIED_CACHE_SIZE:
                    del self._verified[next(iter(self._verified))]  # the oldest entry
                self._verified[token] = verified
        return verified

    def _in_time(self, claims: Claims, not_before: int) -> Claims:
        """Time is checked on every use, cached or not."""
        now, leeway = self._clock(), self._settings.leeway
        if not (not_before - leeway <= now < claims.expires_at + leeway):
            raise InvalidToken("expired or not yet valid")
        return claims

    def _verify(self, token: str) -> tuple[str, Claims, int]:
        """Signature and shape: the costly part, done once per token string."""
        if not token or len(token) > 8192:
            raise InvalidToken("empty or oversized")
        try:
            decoded = jwt.decode(token, self._keyset, algorithms=self._algorithms)
        except (JoseError, ValueError, TypeError, KeyError, IndexError) as exc:
            raise InvalidToken(f"undecodable: {type(exc).__name__}") from None
        typ = decoded.header.get("typ")
        if typ not in (ACCESS_TYP, REFRESH_TYP):
            raise InvalidToken("wrong token type")
        claims: dict[str, Any] = decoded.claims
        try:
            self._registry.validate(claims)
        except JoseError as exc:
            raise InvalidToken(f"claims: {type(exc).__name__}") from None
        strings = ("aud", "sub", "jti", "fid", "realm")
        if not all(isinstance(claims.get(k), str) and claims[k] for k in strings):
            raise InvalidToken("missing claims")
        scopes = claims.get("scopes")
        if not isinstance(scopes, list) or not all(isinstance(s, str) for s in scopes):
            raise InvalidToken("bad scopes")
        if claims["realm"] not in REALMS:
            raise InvalidToken("bad realm")
        generation = claims.get("gen", 0)
        if type(generation) is not int:
            raise InvalidToken("bad generation")
        verified = Claims(
            client_id=claims["aud"],
            subject=claims["sub"],
            realm=claims["realm"],
            family=claims["fid"],
            jti=claims["jti"],
            scopes=tuple(scopes),
            issued_at=int(claims["iat"]),
            expires_at=int(claims["exp"]),
            generation=generation,
        )
        return str(typ), verified, int(claims["nbf"])
