"""/admin/clients: create (the secret shown once), list, show, change, rotate the secret,
revoke the tokens, delete."""

from __future__ import annotations

from aiohttp import web

from service.admin import clients as admin
from service.admin import tokens
from service.admin.errors import AdminError
from service.web.admin import paging
from service.web.admin.appkeys import BY, STORES
from service.web.admin.documents import BadDocument, Kinds, answer, attributes, resource

KIND = "clients"
ID = "[^/]{1,128}"
FILTERS = frozenset({"filter[audience]", "filter[active]"})
LIFETIME = (int, type(None))
CREATE: Kinds = {
    "name": (str,),
    "audience": (str,),
    "grants": (list,),
    "public": (bool,),
    "owner_user": (str,),
    "owner_customer_user": (str,),
    "can_introspect": (bool,),
    "access_token_lifetime": LIFETIME,
    "refresh_token_lifetime": LIFETIME,
    "admin": (bool,),
    # false: no refresh tokens (else a password or authorization_code client may refresh)
    "refresh": (bool,),
    "scopes": (str,),  # space separated, the scopes it may ask for; absent: any
    # The authorization code grant's (see service.admin.clients.CodeOptions)
    "redirect_uris": (list,),
    "skip_consent": (bool,),
    "allow_plain_pkce": (bool,),
}
CHANGE: Kinds = {
    "name": (str,),
    "grants": (list,),
    "active": (bool,),
    "access_token_lifetime": LIFETIME,
    "refresh_token_lifetime": LIFETIME,
    "redirect_uris": (list,),  # replaces the list
    "skip_consent": (bool,),
    "allow_plain_pkce": (bool,),
    "scopes": (str, type(None)),  # space separated; null: any
}


def _view(view: admin.ClientView) -> dict[str, object]:
    return resource(KIND, view.client_id, view, hidden=("client_id",))


def _id(request: web.Request) -> str:
    return request.match_info["client_id"]


async def create(request: web.Request) -> web.Response:
    given = await attributes(request, KIND, CREATE)
    if not isinstance(given.get("name"), str) or not given["name"].strip():
        raise BadDocument(400, "invalid value", "name is required.", "/data/attributes/name")
    stores = request.app[STORES]
    grants = tuple(given.pop("grants", ("password", "refresh_token")))
    positional = {k: given.pop(k) for k in ("name",)}
    code = admin.CodeOptions(
        tuple(given.pop("redirect_uris", ())),
        given.pop("skip_consent", False),
        given.pop("allow_plain_pkce", False),
    )
    created = await admin.create_client(
        stores.pool,
        positional["name"],
        given.pop("audience", "backoffice"),
        grants,
        given.pop("public", False),
        given.pop("owner_user", None),
        given.pop("owner_customer_user", None),
        given.pop("can_introspect", False),
        tokens=stores.settings.tokens,
        by=request[BY],
        code=code,
        **given,
    )
    view = await admin.show_client(stores.pool, created.client_id)
    data = _view(view)
    # Shown this once: only its digest is kept.
    data["meta"] = {"clientSecret": created.client_secret}
    location = {"Location": f"/admin/clients/{created.client_id}"}
    response = answer(data, 201)
    response.headers.update(location)
    return response


async def list_(request: web.Request) -> web.Response:
    page = paging.requested(request, FILTERS)
    raw_active = request.query.get("filter[active]")
    if raw_active not in (None, "true", "false"):
        raise BadDocument(400, "invalid query parameter", "filter[active]: true or false.")
    active = None if raw_active is None else raw_active == "true"
    audience = request.query.get("filter[audience]")
    try:
        found = await admin.list_clients(
            request.app[STORES].pool, audience, active, page.offset, page.size
        )
    except AdminError as exc:
        raise BadDocument(400, "invalid query parameter", str(exc)) from None
    filters = {k: v for k, v in request.query.items() if k in FILTERS}
    links = paging.links("/admin/clients", page, found.total, filters)
    data = [_view(c) for c in found.clients]
    return answer(data, meta={"totalCount": found.total}, links=links)


async def show(request: web.Request) -> web.Response:
    return answer(_view(await admin.show_client(request.app[STORES].pool, _id(request))))


async def change(request: web.Request) -> web.Response:
    given = await attributes(request, KIND, CHANGE)
    changed = await admin.update_client(request.app[STORES], _id(request), given, request[BY])
    return answer(_view(changed))


async def rotate_secret(request: web.Request) -> web.Response:
    rotated = await admin.rotate_secret(request.app[STORES], _id(request), request[BY])
    view = await admin.show_client(request.app[STORES].pool, rotated.client_id)
    data = _view(view)
    data["meta"] = {"clientSecret": rotated.client_secret, "revokedBefore": rotated.revoked_before}
    return answer(data)


async def revoke_tokens(request: web.Request) -> web.Response:
    revoked = await tokens.revoke_client(request.app[STORES], _id(request), request[BY])
    return answer(None, meta={"revokedBefore": revoked.revoked_before})


async def delete(request: web.Request) -> web.Response:
    deleted = await admin.delete_client(request.app[STORES], _id(request), request[BY])
    return answer(None, meta={"revokedBefore": deleted.revoked_before})


def routes() -> list[web.AbstractRouteDef]:
    one = f"/admin/clients/{{client_id:{ID}}}"
    return [
        web.get("/admin/clients", list_),
        web.post("/admin/clients", create),
        web.get(one, show),
        web.patch(one, change),
        web.delete(one, delete),
        web.post(f"{one}/secret", rotate_secret),
        web.delete(f"{one}/tokens", revoke_tokens),
    ]
