"""The signing keys in tokens.keys_dir: add one, retire one, list them."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path

from service.admin.errors import NotFound
from service.config import TokenSettings
from service.oauth import keys
from service.oauth.audit import audit


@dataclass(frozen=True)
class GeneratedKey:
    kid: str
    activation_delay: int  # tokens.key_activation_delay: a new key waits this long to sign
    signs_in: int  # seconds until it signs; 0: at once (the first key does)
    signs_at: int  # then, in Unix time


@dataclass(frozen=True)
class KeyInfo:
    kid: str | None
    alg: str
    signing: bool


def generate_key(
    settings: TokenSettings, algorithm: str | None = None, by: str = "command line"
) -> GeneratedKey:
    kid = keys.generate(settings.keys_dir, algorithm or settings.algorithm)
    audit("key.generated", kid=kid, by=by)
    now = time.time()
    signs_at = keys.signs_from(settings.keys_dir, kid, settings.key_activation_delay, now)
    signs_in = math.ceil(signs_at - now)
    return GeneratedKey(kid, settings.key_activation_delay, signs_in, math.ceil(signs_at))


def retire_key(
    settings: TokenSettings, kid: str, by: str = "command line", force: bool = False
) -> Path:
    """Delete the key's file (returned); the tokens it signed are refused from the next
    reload. Unless `force`, not the key that signs while no other key may sign yet
    (keys.OnlySigningKey); a compromised key may be that one: `force` retires it too."""
    if kid not in {k.kid for k in list_keys(settings)}:
        raise NotFound(("kid",), f"no key {kid!r}")
    path = keys.retire(settings.keys_dir, kid, settings.key_activation_delay, force)
    audit("key.retired", kid=kid, by=by, forced=force)
    return path


def list_keys(settings: TokenSettings) -> list[KeyInfo]:
    ring = keys.KeyRing.load(settings.keys_dir, settings.key_activation_delay)
    signing = ring.signing.kid
    return [KeyInfo(k.kid, keys.algorithm(k), k.kid == signing) for k in ring.keys]
