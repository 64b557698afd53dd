"""The back-office JSON:API: /api/users and /api/users/{id}, back-office tokens only."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from service.oauth.errors import InvalidToken
from service.oauth.tokens import Claims
from service.store.users import User
from service.web import jsonapi
from service.web.appkeys import BEARER, SETTINGS, USERS

CHALLENGE = {"WWW-Authenticate": 'Bearer error="invalid_token"'}
MAX_PAGE_SIZE = 100


class ApiError(Exception):
    """Carries the JSON:API error answer out of a helper."""

    def __init__(self, response: web.Response) -> None:
        super().__init__(response.status)
        self.response = response


async def authenticate(request: web.Request, realm: str) -> Claims:
    if "access_token" in request.query:
        raise ApiError(
            jsonapi.error(
                400,
                "invalid_request",
                "Send the token in the Authorization header, not the query string.",
                {"WWW-Authenticate": 'Bearer error="invalid_request"'},
            )
        )
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    try:
        if scheme.lower() != "bearer":
            raise InvalidToken("no bearer token")
        return await request.app[BEARER].verify(token.strip(), realm)
    except InvalidToken:
        raise ApiError(
            jsonapi.error(
                401, "invalid_token", "The access token is missing, invalid or expired.", CHALLENGE
            )
        ) from None


def _user(user: User) -> dict[str, Any]:
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


def _page_param(request: web.Request, name: str, default: int, maximum: int) -> int:
    raw = request.query.get(f"page[{name}]")
    if raw is None:
        return default
    if not raw.isdigit() or not 1 <= int(raw) <= maximum:
        raise ApiError(
            jsonapi.error(400, "invalid page", f"page[{name}] must be an integer in 1..{maximum}")
        )
    return int(raw)


async def list_users(request: web.Request) -> web.Response:
    try:
        await authenticate(request, "backoffice")
        size = _page_param(request, "size", 10, MAX_PAGE_SIZE)
        number = _page_param(request, "number", 1, 1_000_000)
    except ApiError as exc:
        return exc.response
    users, total = await request.app[USERS].page((number - 1) * size, size)
    base = f"{request.app[SETTINGS].api.backoffice_prefix}/users?page[size]={size}"
    links = {"self": f"{base}&page[number]={number}"}
    if number * size < total:
        links["next"] = f"{base}&page[number]={number + 1}"
    if number > 1:
        links["prev"] = f"{base}&page[number]={number - 1}"
    return jsonapi.document(
        {"data": [_user(u) for u in users], "links": links, "meta": {"totalCount": total}}
    )


async def get_user(request: web.Request) -> web.Response:
    try:
        await authenticate(request, "backoffice")
    except ApiError as exc:
        return exc.response
    user_id = int(request.match_info["id"])
    user = await request.app[USERS].get(user_id) if user_id < 2**63 else None
    if user is None:
        return jsonapi.error(404, "not found", "The user does not exist.")
    return jsonapi.document({"data": _user(user)})


def routes(prefix: str) -> list[web.AbstractRouteDef]:
    return [
        web.get(f"{prefix}/users", list_users),
        web.get(f"{prefix}/users/{{id:[0-9]{{1,19}}}}", get_user),
    ]
