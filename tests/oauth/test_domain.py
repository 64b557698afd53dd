"""The grants, owners and brute-force protection against in-memory ports: no servers, so
each rule is shown on its own in milliseconds. The integration tests (tests/web/, on real
Postgres and Redis) show the same rules end to end."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

from service.config import PasswordHashingSettings, ProtectionSettings, TokenSettings
from service.oauth.audit import Caller
from service.oauth.clients import ClientAuthenticator, digest
from service.oauth.entities import Client
from service.oauth.errors import (
    AccountDisabled,
    AccountLocked,
    InvalidClient,
    InvalidCredentials,
    InvalidGrant,
    InvalidRequest,
    InvalidScope,
    TooManyRequests,
    UnsupportedGrantType,
)
from service.oauth.grants import (
    ClientCredentialsGrant,
    Issuer,
    PasswordGrant,
    RefreshTokenGrant,
    TokenEndpoint,
)
from service.oauth.keys import KeyRing
from service.oauth.model import Audience, GrantType, Subject
from service.oauth.owners import Owners
from service.oauth.passwords import Passwords
from service.oauth.ports import Verdict
from service.oauth.protection import Guard
from service.oauth.retries import RetryWindow
from service.oauth.revocations import Revocations
from service.oauth.tokens import TokenCodec
from tests.oauth.memory import (
    MemoryAccounts,
    MemoryClients,
    MemoryRevokedLogins,
    MemoryTokens,
    MemoryVisitors,
    ScriptedCounters,
)

SECRET = "client-secret"
RETRY_WINDOW = 10
PASSWORD = "s3cret-pass"
# argon2's smallest parameters: these tests are about rules, not hashing cost.
FAST_HASHING = PasswordHashingSettings(memory_cost=8, time_cost=1, parallelism=1, threads=1)


@dataclass
class Domain:
    endpoint: TokenEndpoint
    codec: TokenCodec
    users: MemoryAccounts
    customers: MemoryAccounts
    visitors: MemoryVisitors
    tokens: MemoryTokens
    clients: MemoryClients
    counters: ScriptedCounters
    revoked: MemoryRevokedLogins
    passwords: Passwords
    skew: list[float]  # seconds added to the codec's clock

    def client(
        self,
        audience: Audience = Audience.BACKOFFICE,
        grants: tuple[GrantType, ...] = (GrantType.PASSWORD, GrantType.REFRESH_TOKEN),
        owner_user_id: int | None = None,
        scopes: tuple[str, ...] | None = None,
    ) -> str:
        client_id = f"client-{len(self.clients.rows)}"
        self.clients.rows[client_id] = Client(
            client_id,
            digest(SECRET),
            "test",
            audience,
            grants,
            True,
            True,
            owner_user_id,
            None,
            scopes=scopes,
        )
        return client_id

    async def token(self, client_id: str, **params: str) -> dict[str, str]:
        """Run a token request; the issued tokens by name."""
        body = {"client_id": client_id, "client_secret": SECRET, **params}
        issued = await self.endpoint.token(body, None, Caller("192.0.2.1", "req-1"))
        return {"access_token": issued.access_token, "refresh_token": issued.refresh_token or ""}

    async def login(
        self, client_id: str, username: str, password: str = PASSWORD
    ) -> Mapping[str, str]:
        return await self.token(
            client_id, grant_type="password", username=username, password=password
        )


@pytest.fixture
async def domain(keys_dir: Path) -> AsyncIterator[Domain]:
    skew = [0.0]
    codec = TokenCodec(KeyRing.load(keys_dir), TokenSettings(), clock=lambda: time.time() + skew[0])
    users, customers = MemoryAccounts(Audience.BACKOFFICE), MemoryAccounts(Audience.STOREFRONT)
    visitors, tokens, clients = MemoryVisitors(), MemoryTokens(), MemoryClients()
    counters, revoked = ScriptedCounters(), MemoryRevokedLogins()
    passwords = Passwords(FAST_HASHING)
    owners = Owners((users, customers), visitors, passwords, visitor_lifetime=600)
    guard = Guard(counters, ProtectionSettings())
    issuer = Issuer(owners, codec, tokens)
    endpoint = TokenEndpoint(
        ClientAuthenticator(clients),
        [
            PasswordGrant(owners, issuer, guard),
            RefreshTokenGrant(
                owners,
                codec,
                tokens,
                Revocations(tokens, revoked, visitors, 600),
                RetryWindow(RETRY_WINDOW),
            ),
            ClientCredentialsGrant(owners, issuer),
        ],
        guard,
    )
    yield Domain(
        endpoint,
        codec,
        users,
        customers,
        visitors,
        tokens,
        clients,
        counters,
        revoked,
        passwords,
        skew,
    )
    passwords.close()


async def user(domain: Domain, name: str = "admin", enabled: bool = True) -> None:
    domain.users.add(name, await domain.passwords.hash(PASSWORD), enabled)


async def test_a_password_login_issues_a_live_pair_for_the_user(domain: Domain) -> None:
    await user(domain)
    tokens = await domain.login(domain.client(), "admin")
    claims = domain.codec.read_access(tokens["access_token"])
    assert claims.subject == Subject.user("admin")
    assert await domain.tokens.is_live(claims)
    assert domain.counters.released[0][1] is True  # a success forgets the failures


async def test_a_wrong_password_is_a_counted_failure(domain: Domain) -> None:
    await user(domain)
    with pytest.raises(InvalidCredentials):
        await domain.login(domain.client(), "admin", "wrong-password")
    [account] = domain.users.rows.values()
    assert [a.account for a in domain.counters.failures] == [f"backoffice:id:{account.id}"]
    assert domain.counters.released == []


async def test_an_unknown_user_counts_under_the_name_and_answers_like_a_wrong_password(
    domain: Domain,
) -> None:
    with pytest.raises(InvalidCredentials):
        await domain.login(domain.client(), "nobody")
    assert [a.account for a in domain.counters.failures] == ["backoffice:name:nobody"]


async def test_a_disabled_account_is_told_only_after_the_right_password(domain: Domain) -> None:
    await user(domain, enabled=False)
    client_id = domain.client()
    with pytest.raises(InvalidCredentials):
        await domain.login(client_id, "admin", "wrong-password")
    with pytest.raises(AccountDisabled) as refused:
        await domain.login(client_id, "admin")
    assert refused.value.hint == "Account is disabled."
    # A right password is not a failure, even for a disabled account.
    assert len(domain.counters.failures) == 1
    assert domain.counters.released[-1][1] is False


async def test_a_locked_account_is_refused_without_verifying(domain: Domain) -> None:
    await user(domain)
    domain.counters.verdicts.append((Verdict.LOCKED, 0))
    with pytest.raises(AccountLocked):
        await domain.login(domain.client(), "admin")
    assert domain.counters.failures == [] and domain.counters.released == []


async def test_a_busy_account_waits_for_the_checks_in_flight(domain: Domain) -> None:
    await user(domain)
    domain.counters.verdicts += [(Verdict.BUSY, 0), (Verdict.BUSY, 0)]
    await domain.login(domain.client(), "admin")
    assert domain.counters.verdicts == []


async def test_an_address_at_its_limit_is_answered_429(domain: Domain) -> None:
    await user(domain)
    domain.counters.verdicts.append((Verdict.ADDRESS_LIMITED, 7))
    with pytest.raises(TooManyRequests) as refused:
        await domain.login(domain.client(), "admin")
    assert refused.value.headers["Retry-After"] == "7"


async def test_guest_credentials_make_a_visitor_on_the_storefront_only(domain: Domain) -> None:
    tokens = await domain.login(domain.client(Audience.STOREFRONT), "guest", "guest")
    subject = domain.codec.read_access(tokens["access_token"]).subject
    assert subject.is_visitor and subject.name in domain.visitors.rows
    assert domain.tokens.indexed == {}  # a visitor's login is not indexed by owner
    with pytest.raises(InvalidCredentials):
        await domain.login(domain.client(Audience.BACKOFFICE), "guest", "guest")


async def test_a_login_whose_owner_was_revoked_meanwhile_is_refused(domain: Domain) -> None:
    await user(domain)
    domain.tokens.generations[Subject.user("admin")] = 1  # revoked while logging in
    with pytest.raises(InvalidGrant) as refused:
        await domain.login(domain.client(), "admin")
    assert refused.value.hint == "Token has been revoked"
    assert domain.tokens.current == {}


async def test_refresh_rotates_and_a_reused_token_revokes_the_login(domain: Domain) -> None:
    await user(domain)
    client_id = domain.client()
    first = await domain.login(client_id, "admin")
    second = await domain.token(
        client_id, grant_type="refresh_token", refresh_token=first["refresh_token"]
    )
    domain.tokens.clock = lambda: time.time() + RETRY_WINDOW  # past the retry window
    with pytest.raises(InvalidGrant):
        await domain.token(
            client_id, grant_type="refresh_token", refresh_token=first["refresh_token"]
        )
    family = domain.codec.read_refresh(second["refresh_token"]).family
    assert family in domain.revoked.families  # remembered where Postgres keeps it
    assert not await domain.tokens.is_live(domain.codec.read_refresh(second["refresh_token"]))


async def test_refresh_is_refused_for_an_older_generation_or_a_disabled_owner(
    domain: Domain,
) -> None:
    await user(domain)
    client_id = domain.client()
    tokens = await domain.login(client_id, "admin")
    [account] = domain.users.rows.values()
    domain.users.change(account, generation=1)
    with pytest.raises(InvalidGrant) as refused:
        await domain.token(
            client_id, grant_type="refresh_token", refresh_token=tokens["refresh_token"]
        )
    assert refused.value.hint == "Token has been revoked"
    domain.users.change(account, generation=0, enabled=False)
    with pytest.raises(AccountDisabled):
        await domain.token(
            client_id, grant_type="refresh_token", refresh_token=tokens["refresh_token"]
        )


async def test_another_clients_refresh_token_is_refused(domain: Domain) -> None:
    await user(domain)
    tokens = await domain.login(domain.client(), "admin")
    with pytest.raises(InvalidGrant) as refused:
        await domain.token(
            domain.client(), grant_type="refresh_token", refresh_token=tokens["refresh_token"]
        )
    assert refused.value.hint == "Token is not linked to client"


async def test_client_credentials_act_as_the_owner_without_a_refresh_token(
    domain: Domain,
) -> None:
    await user(domain)
    [account] = domain.users.rows.values()
    client_id = domain.client(grants=(GrantType.CLIENT_CREDENTIALS,), owner_user_id=account.id)
    tokens = await domain.token(client_id, grant_type="client_credentials")
    assert tokens["refresh_token"] == ""
    assert domain.codec.read_access(tokens["access_token"]).subject == account.subject


async def test_a_grant_the_client_is_not_allowed_or_unknown_is_refused(domain: Domain) -> None:
    client_id = domain.client(grants=(GrantType.PASSWORD,))
    with pytest.raises(InvalidClient):
        await domain.token(client_id, grant_type="client_credentials")
    with pytest.raises(UnsupportedGrantType):
        await domain.token(client_id, grant_type="urn:example:unknown")


async def test_a_retry_within_the_window_gets_the_same_pair_and_the_login_lives(
    domain: Domain,
) -> None:
    await user(domain)
    client_id = domain.client()
    first = await domain.login(client_id, "admin")
    refresh = {"grant_type": "refresh_token", "refresh_token": first["refresh_token"]}
    second = await domain.token(client_id, **refresh)
    assert await domain.token(client_id, **refresh) == second  # the answer was lost: again
    assert domain.revoked.families == set()
    # The pair handed out twice is the login's current one, and rotates as usual.
    third = await domain.token(
        client_id, grant_type="refresh_token", refresh_token=second["refresh_token"]
    )
    assert third != second
    # The first token is now two rotations old: reuse, whatever the window.
    with pytest.raises(InvalidGrant):
        await domain.token(client_id, **refresh)
    assert domain.codec.read_refresh(third["refresh_token"]).family in domain.revoked.families


async def test_scopes_are_granted_as_asked_and_a_refresh_may_not_widen_them(
    domain: Domain,
) -> None:
    await user(domain)
    client_id = domain.client()
    tokens = await domain.token(
        client_id,
        grant_type="password",
        username="admin",
        password=PASSWORD,
        scope=" read  write read ",
    )
    assert domain.codec.read_access(tokens["access_token"]).scopes == ("read", "write")
    with pytest.raises(InvalidScope) as widened:
        await domain.token(
            client_id,
            grant_type="refresh_token",
            refresh_token=tokens["refresh_token"],
            scope="read admin",
        )
    assert widened.value.body()["hint"] == "Check the `admin` scope"
    narrowed = await domain.token(
        client_id, grant_type="refresh_token", refresh_token=tokens["refresh_token"], scope="read"
    )
    assert domain.codec.read_access(narrowed["access_token"]).scopes == ("read",)
    kept = await domain.token(
        client_id, grant_type="refresh_token", refresh_token=narrowed["refresh_token"]
    )
    assert domain.codec.read_refresh(kept["refresh_token"]).scopes == ("read",)


async def test_a_client_limited_to_some_scopes_gets_no_other(domain: Domain) -> None:
    await user(domain)
    client_id = domain.client(scopes=("read",))
    login = {"grant_type": "password", "username": "admin", "password": PASSWORD}
    with pytest.raises(InvalidScope) as refused:
        await domain.token(client_id, **login, scope="read write")
    assert refused.value.hint == "Check the `write` scope"
    tokens = await domain.token(client_id, **login, scope="read")
    assert domain.codec.read_access(tokens["access_token"]).scopes == ("read",)
    with pytest.raises(InvalidScope):
        await domain.token(client_id, **login, scope='bad"scope')


async def test_an_expired_refresh_token_says_so(domain: Domain) -> None:
    await user(domain)
    client_id = domain.client()
    tokens = await domain.login(client_id, "admin")
    domain.skew[0] = TokenSettings().refresh_token_lifetime + 60
    with pytest.raises(InvalidGrant) as refused:
        await domain.token(
            client_id, grant_type="refresh_token", refresh_token=tokens["refresh_token"]
        )
    assert refused.value.hint == "Token has expired"


async def test_empty_client_credentials_fail_client_authentication(domain: Domain) -> None:
    # Oro: empty client_id and client_secret are 401 invalid_client; a missing one 400.
    body = {"grant_type": "password", "username": "a", "password": "b"}
    with pytest.raises(InvalidClient):
        await domain.endpoint.token(
            {**body, "client_id": "", "client_secret": ""}, None, Caller("192.0.2.1", "r")
        )
    with pytest.raises(InvalidRequest):
        await domain.endpoint.token(body, None, Caller("192.0.2.1", "r"))


async def test_no_login_may_ask_for_the_admin_scope(domain: Domain) -> None:
    # Only an admin client's client_credentials tokens carry it, given by the grant.
    await user(domain)
    with pytest.raises(InvalidScope):
        await domain.token(
            domain.client(),
            grant_type="password",
            username="admin",
            password=PASSWORD,
            scope="read admin",
        )
