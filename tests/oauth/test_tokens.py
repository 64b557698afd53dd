"""Minting and reading JWTs: types, issuer, clock, algorithms and forged tokens."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from joserfc import jwt
from joserfc.jwk import RSAKey

from service.config import TokenSettings
from service.oauth import keys
from service.oauth.errors import InvalidToken
from service.oauth.keys import KeyRing
from service.oauth.model import Audience, Subject, TokenKind
from service.oauth.tokens import TokenCodec

ADMIN, S = Subject.user("admin"), Subject.user("s")

NOW = 1_800_000_000.0


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def ring(keys_dir: Path) -> KeyRing:
    return KeyRing.load(keys_dir)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def codec(ring: KeyRing, clock: Clock) -> TokenCodec:
    return TokenCodec(ring, TokenSettings(issuer="https://auth.test", leeway=5), clock)


def b64(data: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def test_round_trip(codec: TokenCodec) -> None:
    issued = codec.mint("client-1", ADMIN)
    claims = codec.read_access(issued.access_token)
    assert (claims.client_id, claims.subject, claims.audience) == (
        "client-1",
        ADMIN,
        Audience.BACKOFFICE,
    )
    assert claims.jti == issued.access.jti
    assert claims.expires_at == int(NOW) + 3600
    assert issued.refresh_token is not None
    refresh = codec.read_refresh(issued.refresh_token)
    assert refresh.family == claims.family
    assert refresh.jti == issued.refresh.jti if issued.refresh else False


def test_without_refresh(codec: TokenCodec) -> None:
    issued = codec.mint("c", S, with_refresh=False)
    assert issued.refresh_token is None and issued.refresh is None


def test_types_do_not_substitute(codec: TokenCodec) -> None:
    issued = codec.mint("c", S)
    assert issued.refresh_token
    with pytest.raises(InvalidToken):
        codec.read_access(issued.refresh_token)
    with pytest.raises(InvalidToken):
        codec.read_refresh(issued.access_token)
    # Revocation and introspection take either, and learn which it is.
    assert codec.read(issued.access_token).kind is TokenKind.ACCESS
    assert codec.read(issued.refresh_token).kind is TokenKind.REFRESH


def test_expiry_with_leeway(codec: TokenCodec, clock: Clock) -> None:
    token = codec.mint("c", S).access_token
    clock.now = NOW + 3600 + 4
    codec.read_access(token)
    clock.now = NOW + 3600 + 6
    with pytest.raises(InvalidToken):
        codec.read_access(token)
    with pytest.raises(InvalidToken):
        codec.read(token)


def test_not_yet_valid(codec: TokenCodec, clock: Clock) -> None:
    token = codec.mint("c", S).access_token
    clock.now = NOW - 60
    with pytest.raises(InvalidToken):
        codec.read_access(token)


def test_other_issuer_is_refused(ring: KeyRing, clock: Clock, codec: TokenCodec) -> None:
    other = TokenCodec(ring, TokenSettings(issuer="https://evil.test"), clock)
    with pytest.raises(InvalidToken):
        codec.read_access(other.mint("c", S).access_token)


def test_alg_none_is_refused(codec: TokenCodec) -> None:
    token = codec.mint("c", S).access_token
    _, payload, _ = token.split(".")
    forged = f"{b64({'alg': 'none', 'typ': 'at+jwt'})}.{payload}."
    with pytest.raises(InvalidToken):
        codec.read_access(forged)


def test_hs256_with_the_public_key_as_secret_is_refused(codec: TokenCodec, ring: KeyRing) -> None:
    payload = codec.mint("c", S).access_token.split(".")[1]
    public_pem = RSAKey.import_key(ring.signing.as_dict(private=False)).as_pem()
    header = b64({"alg": "HS256", "typ": "at+jwt", "kid": ring.signing.kid})
    mac = hmac.new(public_pem, f"{header}.{payload}".encode(), hashlib.sha256).digest()
    signature = base64.urlsafe_b64encode(mac).rstrip(b"=").decode()
    with pytest.raises(InvalidToken):
        codec.read_access(f"{header}.{payload}.{signature}")


def test_token_from_an_unknown_key_is_refused(
    codec: TokenCodec, tmp_path: Path, clock: Clock
) -> None:
    keys.generate(tmp_path, "RS256")
    stranger = TokenCodec(KeyRing.load(tmp_path), TokenSettings(issuer="https://auth.test"), clock)
    with pytest.raises(InvalidToken):
        codec.read_access(stranger.mint("c", S).access_token)


@pytest.mark.parametrize("garbage", ["", "a", "a.b", "a.b.c", "....", "é.é.é", "x" * 10_000])
def test_garbage_is_refused(codec: TokenCodec, garbage: str) -> None:
    with pytest.raises(InvalidToken):
        codec.read_access(garbage)


def test_newest_key_signs_and_older_keys_still_verify(tmp_path: Path, clock: Clock) -> None:
    keys.generate(tmp_path, "RS256")
    old = TokenCodec(KeyRing.load(tmp_path), TokenSettings(), clock)
    old_token = old.mint("c", S).access_token
    new_kid = keys.generate(tmp_path, "ES256")
    ring = KeyRing.load(tmp_path)
    assert ring.signing.kid == new_kid
    new = TokenCodec(ring, TokenSettings(), clock)
    assert new.read_access(old_token).subject == S
    new_token = new.mint("c", S).access_token
    assert json.loads(base64.urlsafe_b64decode(new_token.split(".")[0] + "=="))["alg"] == "ES256"
    assert new.read_access(new_token).subject == S


# joserfc warns on every EdDSA use (RFC 9864 deprecates the name); the service still signs it.
EDDSA = pytest.param("EdDSA", marks=pytest.mark.filterwarnings("ignore::UserWarning:joserfc"))


@pytest.mark.parametrize("alg", ["RS256", "ES256", EDDSA])
def test_tokens_are_what_joserfc_would_write(tmp_path: Path, clock: Clock, alg: str) -> None:
    """The codec writes the compact JWS itself: byte for byte what jwt.encode makes of the
    same header and claims, whatever the text in them (non-ASCII, quotes, control
    characters), and joserfc verifies it."""
    keys.generate(tmp_path, alg)
    ring = KeyRing.load(tmp_path)
    key = ring.signing
    codec = TokenCodec(ring, TokenSettings(issuer="https://auth.test/é"), clock)
    names = ["plain@example.com", "zoë\u2028\"'\\/<>&\x00\x1f\x7f", "日本語@例え.jp"]
    for subject in [*(Subject.customer_user(n) for n in names), Subject.visitor("v1")]:
        issued = codec.mint("c-é", subject, scopes=("a", "ü"), generation=7, visitor="v\n")
        assert issued.refresh_token is not None
        for token, typ in ((issued.access_token, "at+jwt"), (issued.refresh_token, "rt+jwt")):
            _, payload, signature = token.split(".")
            claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
            assert claims["sub"] == subject.claim and claims["visitor"] == "v\n"
            expected = jwt.encode({"alg": alg, "kid": key.kid, "typ": typ}, claims, key, [alg])
            if alg == "ES256":  # ECDSA signatures are randomised: the rest is the same
                assert token.rsplit(".", 1)[0] == expected.rsplit(".", 1)[0]
            else:
                assert token == expected
            decoded = jwt.decode(token, key, algorithms=[alg])
            assert decoded.header == {"typ": typ, "alg": alg, "kid": key.kid}
            assert decoded.claims == claims
            if alg == "RS256":  # and the signature checks with cryptography alone
                signing_input, _ = token.rsplit(".", 1)
                key.public_key.verify(  # type: ignore[union-attr]
                    base64.urlsafe_b64decode(signature + "=="),
                    signing_input.encode(),
                    padding.PKCS1v15(),
                    hashes.SHA256(),
                )


def test_private_keys_are_written_owner_only(tmp_path: Path) -> None:
    keys.generate(tmp_path, "RS256")
    [pem] = tmp_path.glob("*.pem")
    assert pem.stat().st_mode & 0o077 == 0


def test_empty_keys_folder_names_the_key(tmp_path: Path) -> None:
    with pytest.raises(keys.KeyFileError, match=r"tokens\.keys_dir"):
        KeyRing.load(tmp_path)


def test_a_world_readable_private_key_stops_the_start(tmp_path: Path) -> None:
    keys.generate(tmp_path, "RS256")
    [pem] = tmp_path.glob("*.pem")
    pem.chmod(0o644)
    with pytest.raises(keys.KeyFileError, match="chmod 600"):
        KeyRing.load(tmp_path)


def test_a_group_readable_private_key_stops_the_start(tmp_path: Path) -> None:
    keys.generate(tmp_path, "RS256")
    [pem] = tmp_path.glob("*.pem")
    pem.chmod(0o640)
    with pytest.raises(keys.KeyFileError, match=rf"{pem}: .*mode 640.*chmod 600 {pem}"):
        KeyRing.load(tmp_path)


def test_a_world_writable_keys_folder_stops_the_start(tmp_path: Path) -> None:
    folder = tmp_path / "keys"
    keys.generate(folder, "RS256")
    folder.chmod(0o777)
    with pytest.raises(keys.KeyFileError, match=rf"mode 777.*chmod o-w {folder}"):
        KeyRing.load(folder)


def test_a_reload_skips_what_it_cannot_use(tmp_path: Path) -> None:
    good = keys.generate(tmp_path, "RS256")
    (tmp_path / "dangling.pem").symlink_to(tmp_path / "nowhere")
    (tmp_path / "junk.pem").write_bytes(b"not a key")
    (tmp_path / "junk.pem").chmod(0o600)
    skipped: list[keys.KeyFileError] = []
    assert KeyRing.load(tmp_path, skip=skipped.append).kids == (good,)
    assert [str(e).split(": ")[1] for e in skipped] == [
        str(tmp_path / "dangling.pem"),
        str(tmp_path / "junk.pem"),
    ]
    with pytest.raises(keys.KeyFileError, match=r"dangling\.pem"):
        KeyRing.load(tmp_path)
    keys.fingerprint(tmp_path)  # no error either


def test_injected_or_unknown_kid_is_refused(codec: TokenCodec, ring: KeyRing) -> None:
    _, payload, signature = codec.mint("c", S).access_token.split(".")
    for kid in ("../../../../dev/null", "' OR 1=1 --", "", "x" * 5000):
        header = b64(
            {"alg": "RS256", "typ": "at+jwt", "kid": kid, "jku": "https://evil.example/jwks.json"}
        )
        with pytest.raises(InvalidToken):
            codec.read_access(f"{header}.{payload}.{signature}")


def test_tampered_payload_is_refused(codec: TokenCodec) -> None:
    header, payload, signature = codec.mint("c", S).access_token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    claims["sub"] = "admin"
    with pytest.raises(InvalidToken):
        codec.read_access(f"{header}.{b64(claims)}.{signature}")
