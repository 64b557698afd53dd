"""One request per workload before it is loaded: proves the request the Lua script will
repeat gets a 2xx, tells a grant or endpoint the service lacks (n/a) from a broken one,
and fetches the access token the API rows present."""

from __future__ import annotations

import asyncio
import base64
from dataclasses import dataclass
from typing import Any

import aiohttp

from bench.infra import Client, Seed

ENDPOINT = "/oauth2-token"
INTROSPECT_PATH = "/oauth2-token/introspect"
GUEST = "guest"  # the storefront guest login: username and password both
JSONAPI = "application/vnd.api+json"


class ProbeError(Exception):
    """A workload's request failed before any load: the row cannot be measured."""


def basic(client: Client) -> str:
    pair = f"{client.client_id}:{client.secret}".encode()
    return "Basic " + base64.b64encode(pair).decode("ascii")


def grant_body(client: Client, grant_type: str, **params: str) -> dict[str, str]:
    # JSON, as Oro's documentation shows its clients sending it.
    return {
        "grant_type": grant_type,
        "client_id": client.client_id,
        "client_secret": client.secret,
        **params,
    }


OK, ABSENT = "ok", "n/a"


def guest_body(client: Client) -> dict[str, str]:
    return grant_body(client, "password", username=GUEST, password=GUEST)


@dataclass(frozen=True)
class Probes:
    """Each optional workload is OK, ABSENT (the service does not have it yet) or what
    went wrong."""

    access_token: str  # back-office, from a password grant
    client_credentials: str
    introspection: str

    @property
    def tokens_issued(self) -> int:
        """Live tokens the probes leave: two pairs, and an access token for the client."""
        return 4 + (self.client_credentials == OK)


async def _json(response: aiohttp.ClientResponse) -> dict[str, Any]:
    try:
        data: dict[str, Any] = await response.json(content_type=None)
    except (ValueError, aiohttp.ContentTypeError):
        return {}
    return data if isinstance(data, dict) else {}


async def _token(session: aiohttp.ClientSession, body: dict[str, str], what: str) -> dict[str, Any]:
    async with session.post(ENDPOINT, json=body) as response:
        data = await _json(response)
        if response.status != 200 or "access_token" not in data:
            raise ProbeError(f"{what}: HTTP {response.status} {data}")
    return data


async def _probe(base: str, seed: Seed, api_prefix: str) -> Probes:
    async with aiohttp.ClientSession(base) as session:
        login = await _token(
            session,
            grant_body(seed.backoffice, "password", username=seed.username, password=seed.password),
            "password grant",
        )
        await _token(
            session,
            guest_body(seed.storefront),
            "guest grant",
        )
        access = login["access_token"]
        headers = {"Authorization": f"Bearer {access}", "Accept": JSONAPI}
        path = f"{api_prefix}/users/{seed.user_id}"
        async with session.get(path, headers=headers) as response:
            if response.status != 200:
                raise ProbeError(f"GET {path}: HTTP {response.status}")

        async with session.post(
            ENDPOINT, json=grant_body(seed.backoffice, "client_credentials")
        ) as r:
            data = await _json(r)
            if r.status == 200:
                client_credentials = OK
            elif r.status == 400 and data.get("error") == "unsupported_grant_type":
                client_credentials = ABSENT
            else:
                client_credentials = f"probe: HTTP {r.status} {data}"

        form = {"token": access}
        auth = {"Authorization": basic(seed.backoffice)}
        async with session.post(INTROSPECT_PATH, data=form, headers=auth) as r:
            data = await _json(r)
            if r.status == 200 and data.get("active") is True:
                introspection = OK
            elif r.status == 404:
                introspection = ABSENT
            else:
                introspection = f"probe: HTTP {r.status} {data}"
    return Probes(access, client_credentials, introspection)


def probe(base: str, seed: Seed, api_prefix: str) -> Probes:
    return asyncio.run(_probe(base, seed, api_prefix))
