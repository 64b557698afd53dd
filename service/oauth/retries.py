"""Refresh retries. A client whose refresh answer was lost on the network presents the same
refresh token again; reuse detection would revoke its whole login. Within the retry window
(`tokens.refresh_reuse_interval`) it gets back the very pair the first request was issued
instead: the store keeps that pair with the login for the window, and one script decides,
so it holds on every instance.

The pair is kept sealed (AES-256-GCM) under a key derived from the presented refresh token:
what Redis holds is useless without that token, and no log or dump of Redis shows a token."""

from __future__ import annotations

import base64
import hashlib
import os
import time
from collections.abc import Callable

import orjson
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from service.oauth.model import Claims
from service.oauth.ports import Replay, TokenRecord
from service.oauth.tokens import Issued

_LABEL = b"oauth refresh retry\x00"
_NONCE = 12


def _cipher(presented: str) -> AESGCM:
    # The refresh token is a signed JWT with a 128-bit random id: one SHA-256 of it is a key.
    return AESGCM(hashlib.sha256(_LABEL + presented.encode()).digest())


class RetryWindow:
    def __init__(self, seconds: int, clock: Callable[[], float] = time.time) -> None:
        self.seconds = seconds
        self._clock = clock

    def keep(self, presented: str, claims: Claims, issued: Issued) -> Replay | None:
        """What a rotation keeps for a retry of `presented` (None: no window)."""
        if not self.seconds or issued.refresh_token is None or issued.refresh is None:
            return None
        now = int(self._clock())
        pair = {
            "a": issued.access_token,
            "r": issued.refresh_token,
            "aj": issued.access.jti,
            "rj": issued.refresh.jti,
            "ae": now + issued.access.ttl,
            "re": now + issued.refresh.ttl,
        }
        nonce = os.urandom(_NONCE)
        sealed = _cipher(presented).encrypt(nonce, orjson.dumps(pair), claims.family.encode())
        return Replay(base64.urlsafe_b64encode(nonce + sealed).decode("ascii"), self.seconds)

    def reopen(self, presented: str, claims: Claims, sealed: str) -> Issued | None:
        """The pair kept for a retry of `presented`; None if it cannot be opened."""
        try:
            raw = base64.urlsafe_b64decode(sealed.encode("ascii"))
            opened = _cipher(presented).decrypt(raw[:_NONCE], raw[_NONCE:], claims.family.encode())
            pair = orjson.loads(opened)
        except (ValueError, InvalidTag):
            return None
        now = int(self._clock())
        family = claims.family
        return Issued(
            subject=claims.subject,
            access_token=pair["a"],
            refresh_token=pair["r"],
            expires_in=max(pair["ae"] - now, 0),
            access=TokenRecord(family, pair["aj"], max(pair["ae"] - now, 0)),
            refresh=TokenRecord(family, pair["rj"], max(pair["re"] - now, 0)),
        )
