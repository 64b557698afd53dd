"""The signing keys in tokens.keys_dir: add one, retire one, list them."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from service.admin.errors import NotFound
from service.config import TokenSettings
from service.oauth import keys
from service.oauth.audit import audit


@dataclass(frozen=True)
class GeneratedKey:
    kid: str
    activation_delay: int  # seconds until it signs: every instance has loaded it by then


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
    return GeneratedKey(kid, settings.key_activation_delay)


def retire_key(settings: TokenSettings, kid: str, by: str = "command line") -> Path:
    """Delete the key's file (returned); the tokens it signed are refused from the next
    reload (a compromised key may be the one signing now: it goes too)."""
    if kid not in {k.kid for k in list_keys(settings)}:
        raise NotFound(("kid",), f"no key {kid!r}")
    path = keys.retire(settings.keys_dir, kid)
    audit("key.retired", kid=kid, by=by)
    return path


def list_keys(settings: TokenSettings) -> list[KeyInfo]:
    ring = keys.KeyRing.load(settings.keys_dir, settings.key_activation_delay)
    signing = ring.signing.kid
    return [KeyInfo(k.kid, keys.algorithm(k), k.kid == signing) for k in ring.keys]
