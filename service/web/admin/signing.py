"""/admin/keys: list the signing keys, add the next one (rotation), retire one."""

from __future__ import annotations

from aiohttp import web

from service.admin import keys as admin
from service.oauth.keys import OnlySigningKey
from service.web import jsonapi
from service.web.admin.appkeys import BY, STORES
from service.web.admin.documents import BadDocument, answer, resource

KID = "[A-Za-z0-9_-]{1,128}"


async def list_(request: web.Request) -> web.Response:
    listed = admin.list_keys(request.app[STORES].settings.tokens)
    return answer([resource("keys", k.kid or "", k, hidden=("kid",)) for k in listed])


async def rotate(request: web.Request) -> web.Response:
    """A new key; it signs once every instance has loaded it (key_activation_delay)."""
    generated = admin.generate_key(request.app[STORES].settings.tokens, by=request[BY])
    data = resource("keys", generated.kid, generated, hidden=("kid",))
    return answer(data, 201)


async def retire(request: web.Request) -> web.Response:
    """?force=true retires even the only key that may sign (a compromised one)."""
    kid = request.match_info["kid"]
    unknown = set(request.query) - {"force"}
    if unknown:
        raise BadDocument(400, "invalid query parameter", f"Unsupported {sorted(unknown)[0]!r}.")
    force = request.query.get("force", "false")
    if force not in ("true", "false"):
        raise BadDocument(400, "invalid query parameter", "force: true or false.")
    try:
        tokens = request.app[STORES].settings.tokens
        admin.retire_key(tokens, kid, by=request[BY], force=force == "true")
    except OnlySigningKey as exc:
        return jsonapi.error(409, "only signing key", f"{exc} (?force=true retires it anyway)")
    return answer(None, meta={"retired": kid})


def routes() -> list[web.AbstractRouteDef]:
    return [
        web.get("/admin/keys", list_),
        web.post("/admin/keys", rotate),
        web.delete(f"/admin/keys/{{kid:{KID}}}", retire),
    ]
