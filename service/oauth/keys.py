"""Signing keys: every `*.pem` in the keys folder verifies, the newest one signs."""

from __future__ import annotations

import calendar
import errno
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from joserfc.jwk import ECKey, KeySet, OKPKey, RSAKey

Key = RSAKey | ECKey | OKPKey


class KeyFileError(Exception):
    """The keys folder is missing, empty, open to others, or holds an unusable key."""


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
    def load(
        cls,
        folder: str | Path,
        activation_delay: int = 0,
        skip: Callable[[KeyFileError], None] | None = None,
    ) -> KeyRing:
        """Every key in `folder`. An entry that cannot be used stops the load, unless `skip`
        is given: then it gets the entry's error and the load goes on without it (a reload
        must get past a dangling link that a secret volume leaves during an update)."""
        folder = Path(folder)
        _check_folder(folder)
        found: list[tuple[float, str, Key]] = []
        for path in sorted(folder.glob("*.pem")):
            try:
                key, created = _read(path)
            except KeyFileError as exc:
                if skip is None:
                    raise
                skip(exc)
                continue
            found.append((created, path.name, key))
        if not found:
            raise KeyFileError(
                f"tokens.keys_dir: no usable *.pem key in {folder}; "
                "run `python -m service keys generate`"
            )
        found.sort(key=lambda entry: entry[:2])
        return cls(tuple(k for _, _, k in found), tuple(c for c, _, _ in found), activation_delay)


def _check_folder(folder: Path) -> None:
    """Whoever can write the folder can add a key that signs: nobody but its owner may."""
    try:
        mode = folder.stat().st_mode
        read_only = bool(os.statvfs(folder).f_flag & os.ST_RDONLY)
    except OSError as exc:
        hint = "; run `python -m service keys generate`" if exc.errno == errno.ENOENT else ""
        raise KeyFileError(f"tokens.keys_dir: {folder}: {exc.strerror or exc}{hint}") from None
    # A read-only mount (a Kubernetes secret volume shows mode 1777) cannot be written.
    if mode & 0o002 and not read_only:
        raise KeyFileError(
            f"tokens.keys_dir: {folder} is writable by every user (mode {mode & 0o7777:o}): "
            f"anyone could add a signing key; run `chmod o-w {folder}`"
        )


def _read(path: Path) -> tuple[Key, float]:
    """One key file and when it was made, or a KeyFileError that names the file."""
    try:
        mode = path.stat().st_mode & 0o777
        if mode & 0o077:
            raise KeyFileError(
                f"open to other users than its owner (mode {mode:o}): "
                f"a private key must not be; run `chmod 600 {path}`"
            )
        return _import(path.read_bytes()), _created(path)
    except OSError as exc:  # a dangling link, a file deleted meanwhile, no permission
        raise KeyFileError(f"tokens.keys_dir: {path}: {exc.strerror or exc}") from None
    except KeyFileError as exc:
        raise KeyFileError(f"tokens.keys_dir: {path}: {exc}") from None


def fingerprint(folder: str | Path) -> tuple[tuple[str, int, int, int], ...]:
    """What the keys folder holds, cheaply: reload only when this changes. The modes catch a
    chmod (of a key, or of the folder: "." is the folder itself); an entry that
    cannot be read is in it too, so that it is reported once, and read again once it can."""
    found = []
    folder = Path(folder)
    for name, path in [(".", folder), *((p.name, p) for p in sorted(folder.glob("*.pem")))]:
        try:
            stat = path.stat()
        except OSError:
            found.append((name, -1, -1, -1))
            continue
        found.append((name, stat.st_mtime_ns, stat.st_mode, stat.st_size))
    return tuple(found)


class OnlySigningKey(KeyFileError):
    """Retiring this key would leave no key that may sign yet."""


def signs_from(folder: str | Path, kid: str, activation_delay: int, now: float) -> float:
    """When the key `kid` of `folder` signs: `now` if it does already, else once it is
    `activation_delay` old (unless a newer key comes first)."""
    ring = KeyRing.load(folder, activation_delay, skip=lambda _: None)
    if ring.signing_at(now).kid == kid:
        return now
    return ring.created[ring.kids.index(kid)] + activation_delay


def _check_retire(folder: str | Path, kid: str, activation_delay: int) -> None:
    try:
        ring = KeyRing.load(folder, activation_delay, skip=lambda _: None)
    except KeyFileError:
        return  # no usable key at all: none signs; `retire` reports the kid it cannot find
    now = time.time()
    if ring.signing_at(now).kid != kid:
        return
    others = [
        k
        for k, created in zip(ring.keys, ring.created, strict=True)
        if k.kid != kid and created + activation_delay <= now
    ]
    if not others:
        raise OnlySigningKey(
            f"key {kid} is the only key that may sign: without it "
            + (
                "the service has no key and cannot start or reload"
                if len(ring.keys) == 1
                else "a key that not every instance may have loaded yet would sign"
            )
            + "; add a new key (rotate) and retire this one once the new key signs"
        )


def retire(folder: str | Path, kid: str, activation_delay: int = 0, force: bool = False) -> Path:
    """Delete the key file whose key has this kid; its tokens stop verifying on reload.
    Unless `force`, refuse to retire the key that signs when no other key may sign now."""
    if not force:
        _check_retire(folder, kid, activation_delay)
    for path in sorted(Path(folder).glob("*.pem")):
        try:
            found = _import(path.read_bytes()).kid
        except (OSError, KeyFileError):
            continue  # not the key asked for, whatever it is
        if found == kid:
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
    # <UTC time>Z-<kid>.pem, as config.yml says (the kid is RFC 7638's base64url: safe in a
    # file name).
    path = folder / f"{stamp}.{now % 10**9:09d}Z-{kid}.pem"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(key.as_pem(private=True))
    return kid
