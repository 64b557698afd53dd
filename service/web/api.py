"""The back-office JSON:API: /api/users and /api/users/{id}, back-office tokens only."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from service.oauth.entities import User
from service.oauth.model import Audience, Claims
from service.web import jsonapi
from service.web.appkeys import ACCOUNTS, SETTINGS
from service.web.auth import bearer

MAX_PAGE_SIZE = 100


def user_resource(user: User) -> dict[str, Any]:
    """A user as a JSON:API resource object (also rendered by bench/bare.py)."""
    return {
        "type": "users",
        "id": str(user.id),
        "attributes": {
            "username": user.username,
            "email": user.email,
            "firstName": user.first_name,
            "lastName": user.last_name,
            "enabled": user.enabled,
            "createdAt": user.created_at.isoformat(),
        },
    }


def _page_param(request: web.Request, name: str, default: int, maximum: int) -> int | None:
    raw = request.query.get(f"page[{name}]")
    if raw is None:
        return default
    # ASCII digits only: str.isdigit() also takes "²", which int() refuses.
    if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= maximum:
        return None
    return int(raw)


@bearer(Audience.BACKOFFICE, query=("page[size]", "page[number]"))
async def list_users(request: web.Request, claims: Claims) -> web.Response:
    size = _page_param(request, "size", 10, MAX_PAGE_SIZE)
    number = _page_param(request, "number", 1, 1_000_000)
    if size is None or number is None:
        detail = f"page[size] must be in 1..{MAX_PAGE_SIZE}, page[number] a positive integer"
        return jsonapi.error(400, "invalid page", detail)
    users, total = await request.app[ACCOUNTS].users((number - 1) * size, size)
    base = f"{request.app[SETTINGS].api.backoffice_prefix}/users?page[size]={size}"
    links = {"self": f"{base}&page[number]={number}"}
    if number * size < total:
        links["next"] = f"{base}&page[number]={number + 1}"
    if number > 1:
        links["prev"] = f"{base}&page[number]={number - 1}"
    return jsonapi.document(
        {"data": [user_resource(u) for u in users], "links": links, "meta": {"totalCount": total}}
    )


@bearer(Audience.BACKOFFICE)
async def get_user(request: web.Request, claims: Claims) -> web.Response:
    user = await request.app[ACCOUNTS].user(int(request.match_info["id"]))
    if user is None:
        return jsonapi.error(404, "not found", "The user does not exist.")
    return jsonapi.document({"data": user_resource(user)})


def routes(prefix: str) -> list[web.AbstractRouteDef]:
    return [
        web.get(f"{prefix}/users", list_users),
        web.get(f"{prefix}/users/{{id:[0-9]{{1,19}}}}", get_user),
    ]
