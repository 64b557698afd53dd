"""Minting and reading the JWTs. Access and refresh tokens differ in their `typ` header,
so neither is ever accepted as the other."""

from __future__ import annotations

import base64
import functools
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson
from joserfc import jwt
from joserfc.errors import ExpiredTokenError, JoseError
from joserfc.jwa import JWSAlgModel
from joserfc.jws import JWSRegistry

from service.cache import Cache
from service.config import TokenSettings
from service.oauth.entities import Client
from service.oauth.errors import InvalidToken, TokenExpired
from service.oauth.keys import Key, KeyRing, algorithm
from service.oauth.model import Audience, Claims, Subject, TokenKind
from service.oauth.ports import TokenRecord

# The `typ` header of each kind of token.
TYP = {TokenKind.ACCESS: "at+jwt", TokenKind.REFRESH: "rt+jwt"}  # at+jwt: RFC 9068
KIND = {typ: kind for kind, typ in TYP.items()}
# Verified tokens kept per process: a client presents the same bearer token many times, and
# checking its RS256 signature and claims costs more than the rest of an API call.
VERIFIED_CACHE_SIZE = 4096


def _b64(data: bytes) -> bytes:
    return base64.urlsafe_b64encode(data).rstrip(b"=")


def _signing(key: Key) -> tuple[JWSAlgModel, dict[TokenKind, bytes]]:
    """The key's signer, checked against it once (neither changes), and the protected
    header segment of its tokens of each kind, as joserfc's jwt.encode writes it (its
    default `typ` first, then replaced by ours; ASCII JSON without spaces)."""
    alg = algorithm(key)
    signer = JWSRegistry.algorithms[alg]
    signer.check_key(key)
    headers = {kind: {"typ": typ, "alg": alg, "kid": key.kid} for kind, typ in TYP.items()}
    return signer, {kind: _b64(orjson.dumps(header)) for kind, header in headers.items()}


def new_id() -> str:
    """128 random bits, URL-safe."""
    return secrets.token_urlsafe(16)


@dataclass(frozen=True)
class Issued:
    subject: Subject
    access_token: str
    refresh_token: str | None
    expires_in: int
    access: TokenRecord
    refresh: TokenRecord | None


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
        # token -> (claims, nbf) for tokens whose signature verified with these keys.
        # Cleared with every key change, so a retired key's tokens stop verifying at once.
        self._verified: Cache[str, tuple[Claims, int]] = Cache(VERIFIED_CACHE_SIZE)
        # Each key's signer and header segments: the same for every token it signs.
        self._signing = {k.kid: _signing(k) for k in keys.keys}

    def mint(
        self,
        client_id: str,
        subject: Subject,
        *,
        family: str | None = None,
        scopes: tuple[str, ...] = (),
        with_refresh: bool = True,
        generation: int = 0,
        client: Client | None = None,
        visitor: str | None = None,
    ) -> Issued:
        """A new pair (or only an access token) for the subject's audience. The tokens
        live as long as the client's own lifetimes say, else as config.yml's; a visitor's
        refresh token always lives `guest_refresh_token_lifetime` (its visitor row is
        kept that long). `visitor`: the session id of the visitor a customer user was
        before this login (its `visitor` claim)."""
        now = int(self._clock())
        family = family or new_id()
        settings = self._settings
        access_life = (client and client.access_token_lifetime) or settings.access_token_lifetime
        access = TokenRecord(family, new_id(), access_life)
        sign = functools.partial(self._sign, client_id, subject, scopes, generation, visitor, now)
        access_token = sign(TokenKind.ACCESS, access)
        refresh = refresh_token = None
        if with_refresh:
            life = (
                settings.guest_refresh_token_lifetime
                if subject.is_visitor
                else (client and client.refresh_token_lifetime) or settings.refresh_token_lifetime
            )
            refresh = TokenRecord(family, new_id(), life)
            refresh_token = sign(TokenKind.REFRESH, refresh)
        return Issued(subject, access_token, refresh_token, access_life, access, refresh)

    def _sign(
        self,
        client_id: str,
        subject: Subject,
        scopes: tuple[str, ...],
        generation: int,
        visitor: str | None,
        now: int,
        kind: TokenKind,
        record: TokenRecord,
    ) -> str:
        key = self._keys.signing_at(now)
        claims = {
            "iss": self._settings.issuer,
            "aud": client_id,
            "jti": record.jti,
            "iat": now,
            "nbf": now,
            "exp": now + record.ttl,
            "sub": subject.claim,
            "scopes": list(scopes),  # Oro's claim
            # RFC 9068's, for resource servers that read the standard ones.
            "client_id": client_id,
            "scope": " ".join(scopes),
            "fid": record.family,
            "realm": subject.audience.value,  # the audience; its claim name predates the word
            "gen": generation,
        }
        if visitor is not None:
            claims["visitor"] = visitor
        # The compact JWS that joserfc's jwt.encode makes, byte for byte (tests compare),
        # without its per-call registry, header checks and stdlib JSON; the signature is
        # joserfc's own algorithm's, with the key object it loaded once.
        signer, headers = self._signing[key.kid]
        signing_input = headers[kind] + b"." + _b64(orjson.dumps(claims))
        return (signing_input + b"." + _b64(signer.sign(signing_input, key))).decode("ascii")

    def read_access(self, token: str) -> Claims:
        return self._read(token, TokenKind.ACCESS)

    def read_refresh(self, token: str) -> Claims:
        return self._read(token, TokenKind.REFRESH)

    def read(self, token: str) -> Claims:
        """A token of either kind (`claims.kind` says which)."""
        claims, not_before = self._verified_once(token)
        return self._in_time(claims, not_before)

    def _read(self, token: str, kind: TokenKind) -> Claims:
        claims, not_before = self._verified_once(token)
        if claims.kind is not kind:
            raise InvalidToken("wrong token type")
        return self._in_time(claims, not_before)

    def _verified_once(self, token: str) -> tuple[Claims, int]:
        verified = self._verified.get(token)
        if verified is None:
            verified = self._verify(token)
            # A refresh token is good for one use: caching it would only push out access
            # tokens, which come back with every API call.
            if verified[0].kind is TokenKind.ACCESS:
                self._verified.put(token, verified)
        return verified

    def _in_time(self, claims: Claims, not_before: int) -> Claims:
        """Time is checked on every use, cached or not."""
        now, leeway = self._clock(), self._settings.leeway
        if now >= claims.expires_at + leeway:
            raise TokenExpired("expired")
        if now < not_before - leeway:
            raise InvalidToken("not yet valid")
        return claims

    def _verify(self, token: str) -> tuple[Claims, int]:
        """Signature and shape: the costly part, done once per token string."""
        if not token or len(token) > 8192:
            raise InvalidToken("empty or oversized")
        try:
            decoded = jwt.decode(token, self._keyset, algorithms=self._algorithms)
        except (JoseError, ValueError, TypeError, KeyError, IndexError) as exc:
            raise InvalidToken(f"undecodable: {type(exc).__name__}") from None
        typ = decoded.header.get("typ")
        kind = KIND.get(typ) if isinstance(typ, str) else None
        if kind is None:
            raise InvalidToken("wrong token type")
        claims: dict[str, Any] = decoded.claims
        try:
            self._registry.validate(claims)
        except ExpiredTokenError:
            raise TokenExpired("expired") from None
        except JoseError as exc:
            raise InvalidToken(f"claims: {type(exc).__name__}") from None
        strings = ("aud", "sub", "jti", "fid", "realm")
        if not all(isinstance(claims.get(k), str) and claims[k] for k in strings):
            raise InvalidToken("missing claims")
        scopes = claims.get("scopes")
        if not isinstance(scopes, list) or not all(isinstance(s, str) for s in scopes):
            raise InvalidToken("bad scopes")
        if claims["realm"] not in tuple(Audience):
            raise InvalidToken("bad realm")
        generation = claims.get("gen", 0)
        if type(generation) is not int:
            raise InvalidToken("bad generation")
        visitor = claims.get("visitor")
        if visitor is not None and not isinstance(visitor, str):
            raise InvalidToken("bad visitor")
        verified = Claims(
            kind=kind,
            client_id=claims["aud"],
            subject=Subject.from_claim(Audience(claims["realm"]), claims["sub"]),
            family=claims["fid"],
            jti=claims["jti"],
            scopes=tuple(scopes),
            issued_at=int(claims["iat"]),
            expires_at=int(claims["exp"]),
            generation=generation,
            visitor=visitor,
        )
        return verified, int(claims["nbf"])
