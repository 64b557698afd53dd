"""Signing keys: every `*.pem` in the keys folder verifies, the newest one signs."""

from __future__ import annotations

import calendar
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from joserfc.jwk import ECKey, KeySet, OKPKey, RSAKey

Key = RSAKey | ECKey | OKPKey


class KeyFileError(Exception):
    """The keys folder is missing, empty or holds an unreadable key."""


def algorithm(key: Key) -> str:
    if isinstance(key, RSAKey):
        return "RS256"
    if isinstance(key, ECKey) and key.curve_name == "P-256":
        return "ES256"
    if isinstance(key, OKPKey) and key.curve_name == "Ed25519":
        return "EdDSA"
    raise KeyFileError(f"unsupported key type {key.key_type}")


def _import(pem: bytes) -> Key:
    for cls in (RSAKey, ECKey, OKPKey):
        try:
            key: Key = cls.import_key(pem, {"use": "sig"})
        except Exception:  # noqa: S112 - try the next key type
            continue
        if key.is_private:
            key.ensure_kid()  # the RFC 7638 thumbprint
            return key
    raise KeyFileError("not a private key in PEM form")


def _created(path: Path) -> float:
    """When the key was made: from the name `generate` gives it, else the file's mtime."""
    stamp = path.name.split(".", 1)[0]
    try:
        return calendar.timegm(time.strptime(stamp, "%Y%m%dT%H%M%S"))
    except ValueError:
        return path.stat().st_mtime


@dataclass(frozen=True)
class KeyRing:
    """Every key verifies. The newest key that has been published for at least
    `activation_delay` seconds signs, so a fleet that reloads its keys folder more often
    than that never meets a token signed by a key it does not know yet."""

    keys: tuple[Key, ...]  # oldest first
    created: tuple[float, ...]
    activation_delay: int = 0

    def signing_at(self, now: float) -> Key:
        for key, created in zip(reversed(self.keys), reversed(self.created), strict=True):
            if created + self.activation_delay <= now:
                return key
        return self.keys[0]

    @property
    def signing(self) -> Key:
        return self.signing_at(time.time())

    @property
    def kids(self) -> tuple[str | None, ...]:
        return tuple(k.kid for k in self.keys)

    @property
    def algorithms(self) -> list[str]:
        return sorted({algorithm(k) for k in self.keys})

    @property
    def keyset(self) -> KeySet:
        return KeySet(list(self.keys))

    def public_jwks(self) -> dict[str, Any]:
        keys = []
        for key in self.keys:
            jwk: dict[str, Any] = dict(key.as_dict(private=False))
            jwk.update(kid=key.kid, use="sig", alg=algorithm(key))
            keys.append(jwk)
        return {"keys": keys}

    @classmethod
    def load(cls, folder: str | Path, activation_delay: int = 0) -> KeyRing:
        folder = Path(folder)
        files = sorted(folder.glob("*.pem"), key=lambda p: (_created(p), p.name))
        if not files:
            raise KeyFileError(
                f"tokens.keys_dir: no *.pem key in {folder}; run `python -m service keys generate`"
            )
        keys = []
        for path in files:
            mode = path.stat().st_mode & 0o777
            if mode & 0o007:
                raise KeyFileError(
                    f"tokens.keys_dir: {path} is readable by every user (mode {mode:o}): "
                    f"a private key must not be; run `chmod 600 {path}`"
                )
            try:
                keys.append(_import(path.read_bytes()))
            except (OSError, KeyFileError) as exc:
                raise KeyFileError(f"tokens.keys_dir: {path}: {exc}") from None
        return cls(tuple(keys), tuple(_created(p) for p in files), activation_delay)


def fingerprint(folder: str | Path) -> tuple[tuple[str, int, int], ...]:
    """What the keys folder holds, cheaply: reload only when this changes."""
    found = []
    for path in sorted(Path(folder).glob("*.pem")):
        stat = path.stat()
        found.append((path.name, stat.st_mtime_ns, stat.st_size))
    return tuple(found)


def retire(folder: str | Path, kid: str) -> Path:
    """Delete the key file whose key has this kid; its tokens stop verifying on reload."""
    for path in Path(folder).glob("*.pem"):
        if _import(path.read_bytes()).kid == kid:
            path.unlink()
            return path
    raise KeyFileError(f"no key with kid {kid!r} in {folder}")


def generate(folder: str | Path, algorithm: str = "RS256") -> str:
    """Write a new private key (mode 0600) into `folder`; return its kid."""
    key: Key
    if algorithm == "RS256":
        key = RSAKey.generate_key(2048, private=True)
    elif algorithm == "ES256":
        key = ECKey.generate_key("P-256", private=True)
    elif algorithm == "EdDSA":
        key = OKPKey.generate_key("Ed25519", private=True)
    else:
        raise KeyFileError(f"tokens.algorithm: unsupported {algorithm!r}")
    kid = key.thumbprint()
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    # The timestamp makes the newest key sort last, so it is the one that signs.
    now = time.time_ns()
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime(now // 10**9))
    path = folder / f"{stamp}.{now % 10**9:09d}Z-{kid[:8]}.pem"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(key.as_pem(private=True))
    return kid
