"""Redis key names as service/store/tokens.py documents them, spelled out by the tests that
look at the keys themselves (TTLs, hash tags, which node holds them)."""

from __future__ import annotations

from service.oauth.model import Subject


def access_key(prefix: str, family: str, jti: str) -> str:
    return f"{prefix}{{{family}}}:a:{jti}"


def family_key(prefix: str, family: str) -> str:
    return f"{prefix}{{{family}}}:f"


def owner_index(prefix: str, subject: Subject) -> str:
    return f"{prefix}idx:o:{subject.audience}:{subject.claim}"
