"""`make run`: embedded servers, migrations, a key, a demo client and user, then serve."""

from __future__ import annotations

import asyncio
import secrets
from pathlib import Path

import asyncpg

from service.admin import maintenance
from service.admin.accounts import create_user
from service.admin.clients import create_client
from service.admin.keys import generate_key
from service.config import Settings, derived_issuer
from service.dev.embedded import started
from service.oauth.passwords import Passwords
from service.server import serve
from service.store import pg
from service.store.errors import StoreError


async def _prepare(settings: Settings) -> tuple[str, str, str] | None:
    """Migrations, then the demo user and client: (client_id, secret, password), or None
    if an earlier run made them."""
    conn = await asyncpg.connect(settings.database.url, **pg.connect_options(settings.database))
    try:
        for name in await maintenance.migrate(conn):
            print(f"applied migration {name}")
    finally:
        await conn.close()
    pool = await pg.create_pool(settings.database)
    passwords = Passwords(settings.password_hashing)
    try:
        password = secrets.token_urlsafe(12)
        try:
            await create_user(
                pool, passwords, "admin", "admin@example.com", password, "Demo", "Admin"
            )
        except StoreError:
            return None
        client = await create_client(pool, "Demo back-office client")
        assert client.client_secret is not None
        return client.client_id, client.client_secret, password
    finally:
        passwords.close()
        await pool.close()


def run(settings: Settings) -> None:
    settings = started(settings)
    demo = asyncio.run(_prepare(settings))
    if not any(Path(settings.tokens.keys_dir).glob("*.pem")):
        kid = generate_key(settings.tokens).kid
        print(f"generated signing key {kid} in {settings.tokens.keys_dir}/")
    base = derived_issuer(settings.server)  # localhost: the address the issuer names
    if demo is None:
        print(
            "demo user 'admin' exists; its password was printed on the first run "
            "(make clean starts over)"
        )
        client_id, secret, password = "<client_id>", "<client_secret>", "<password>"
    else:
        client_id, secret, password = demo
        print("demo credentials (shown once):")
        print(f"  user      admin / {password}")
        print(f"  client_id {client_id}\n  secret    {secret}")
    print("\nget a token:")
    print(
        f"  curl -s {base}/oauth2-token -H 'Content-Type: application/json' -d "
        f'\'{{"grant_type":"password","client_id":"{client_id}",'
        f'"client_secret":"{secret}","username":"admin","password":"{password}"}}\''
    )
    print("then call the API with it:")
    print(
        f"  curl -s {base}/api/users -H 'Accept: application/vnd.api+json' "
        "-H 'Authorization: Bearer <access_token>'"
    )
    print(f"\nserving on {base} (Ctrl-C stops)", flush=True)
    serve(settings)
