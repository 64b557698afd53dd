"""/admin/users and /admin/customer-users: create, list (paged, filtered), show, change
(names, a user's email, enabled), set a password, unlock, revoke the tokens, list the live
logins, delete. An account is named by its id."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web

from service.admin import accounts as admin
from service.admin import tokens
from service.oauth.model import Audience
from service.web.admin import paging
from service.web.admin.appkeys import BY, PASSWORDS, STORES
from service.web.admin.documents import BadDocument, Kinds, answer, attributes, resource

KINDS = {Audience.BACKOFFICE: "users", Audience.STOREFRONT: "customer-users"}
NAMES: Kinds = {"first_name": (str,), "last_name": (str,)}
CREATE = {
    Audience.BACKOFFICE: {"username": (str,), "email": (str,), "password": (str,), **NAMES},
    Audience.STOREFRONT: {"email": (str,), "password": (str,), **NAMES},
}
CHANGE = {
    Audience.BACKOFFICE: {"email": (str,), "enabled": (bool,), **NAMES},
    Audience.STOREFRONT: {"enabled": (bool,), **NAMES},
}
PASSWORD: Kinds = {"password": (str,)}
ID = "[1-9][0-9]{0,17}"

Handler = Callable[[web.Request, Audience], Awaitable[web.Response]]
web_handler = Callable[[web.Request], Awaitable[web.Response]]


def _view(audience: Audience, view: admin.AccountView) -> dict[str, object]:
    hidden = ("username",) if audience is Audience.STOREFRONT else ()
    return resource(KINDS[audience], view.id, view, hidden)


def _id(request: web.Request) -> int:
    return int(request.match_info["id"])


def _required(given: dict[str, object], kinds: Kinds) -> None:
    for name in kinds:
        if name not in given and name not in NAMES:
            pointer = f"/data/attributes/{name}"
            raise BadDocument(400, "invalid value", f"{name} is required.", pointer)


async def create(request: web.Request, audience: Audience) -> web.Response:
    given = await attributes(request, KINDS[audience], CREATE[audience])
    _required(given, CREATE[audience])
    pool, passwords = request.app[STORES].pool, request.app[PASSWORDS]
    if audience is Audience.BACKOFFICE:
        user = await admin.create_user(pool, passwords, **given)
        created_id = user.id
    else:
        customer = await admin.create_customer_user(pool, passwords, **given)
        created_id = customer.id
    view = await admin.show_account(pool, audience, created_id)
    response = answer(_view(audience, view), 201)
    response.headers["Location"] = f"/admin/{KINDS[audience]}/{created_id}"
    return response


async def list_(request: web.Request, audience: Audience) -> web.Response:
    page = paging.requested(request, frozenset({"filter[search]"}))
    search = request.query.get("filter[search]")
    found = await admin.list_accounts(
        request.app[STORES].pool, audience, page.offset, page.size, search
    )
    filters = {} if search is None else {"filter[search]": search}
    links = paging.links(f"/admin/{KINDS[audience]}", page, found.total, filters)
    data = [_view(audience, a) for a in found.accounts]
    return answer(data, meta={"totalCount": found.total}, links=links)


async def show(request: web.Request, audience: Audience) -> web.Response:
    view = await admin.show_account(request.app[STORES].pool, audience, _id(request))
    return answer(_view(audience, view))


async def change(request: web.Request, audience: Audience) -> web.Response:
    given = await attributes(request, KINDS[audience], CHANGE[audience])
    changed = await admin.update_account(
        request.app[STORES], audience, _id(request), given, request[BY]
    )
    return answer(_view(audience, changed.account), meta={"revokedLogins": changed.revoked_logins})


async def set_password(request: web.Request, audience: Audience) -> web.Response:
    given = await attributes(request, "passwords", PASSWORD)
    _required(given, PASSWORD)
    changed = await admin.set_password(
        request.app[STORES],
        request.app[PASSWORDS],
        audience,
        _id(request),
        given["password"],
        request[BY],
    )
    return answer(_view(audience, changed.account), meta={"revokedLogins": changed.revoked_logins})


async def _login(request: web.Request, audience: Audience) -> str:
    view = await admin.show_account(request.app[STORES].pool, audience, _id(request))
    return view.username or view.email


async def unlock(request: web.Request, audience: Audience) -> web.Response:
    unlocked = await admin.unlock(request.app[STORES], audience, await _login(request, audience))
    return answer(None, meta={"unlocked": unlocked.unlocked})


async def revoke_tokens(request: web.Request, audience: Audience) -> web.Response:
    stores, login = request.app[STORES], await _login(request, audience)
    if audience is Audience.BACKOFFICE:
        revoked = await tokens.revoke_user(stores, login, request[BY])
    else:
        revoked = await tokens.revoke_customer_user(stores, login, request[BY])
    return answer(None, meta={"revokedLogins": revoked.revoked_logins})


async def logins(request: web.Request, audience: Audience) -> web.Response:
    found = await tokens.list_logins(request.app[STORES], audience, _id(request))
    data = [resource("logins", login.family, login, hidden=("family",)) for login in found.logins]
    return answer(data, meta={"subject": found.subject})


async def delete(request: web.Request, audience: Audience) -> web.Response:
    deleted = await admin.delete_account(request.app[STORES], audience, _id(request), request[BY])
    return answer(None, meta={"revokedLogins": deleted.revoked_logins})


def routes() -> list[web.AbstractRouteDef]:
    found: list[web.AbstractRouteDef] = []
    for audience, kind in KINDS.items():

        def bound(handler: Handler, audience: Audience = audience) -> web_handler:
            async def handle(request: web.Request) -> web.Response:
                return await handler(request, audience)

            return handle

        many, one = f"/admin/{kind}", f"/admin/{kind}/{{id:{ID}}}"
        found += [
            web.get(many, bound(list_)),
            web.post(many, bound(create)),
            web.get(one, bound(show)),
            web.patch(one, bound(change)),
            web.delete(one, bound(delete)),
            web.post(f"{one}/password", bound(set_password)),
            web.post(f"{one}/unlock", bound(unlock)),
            web.get(f"{one}/logins", bound(logins)),
            web.delete(f"{one}/tokens", bound(revoke_tokens)),
        ]
    return found
