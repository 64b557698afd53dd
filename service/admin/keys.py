"""The signing keys in tokens.keys_dir: add one, retire one, list them."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from service.config import TokenSettings
from service.oauth import keys


@dataclass(frozen=True)
class GeneratedKey:
    kid: str
    activation_delay: int  # seconds until it signs: every instance has loaded it by then


@dataclass(frozen=True)
class KeyInfo:
    kid: str | None
    alg: str
    signing: bool


def generate_key(settings: TokenSettings, algorithm: str | None = None) -> GeneratedKey:
    kid = keys.generate(settings.keys_dir, algorithm or settings.algorithm)
    return GeneratedKey(kid, settings.key_activation_delay)


def retire_key(settings: TokenSettings, kid: str) -> Path:
    """Delete the key's file (returned); the tokens it signed are refused from the next
    reload."""
    return keys.retire(settings.keys_dir, kid)


def list_keys(settings: TokenSettings) -> list[KeyInfo]:
    ring = keys.KeyRing.load(settings.keys_dir, settings.key_activation_delay)
    signing = ring.signing.kid
    return [KeyInfo(k.kid, keys.algorithm(k), k.kid == signing) for k in ring.keys]
