"""The storefront JSON:API: the caller's own customer user or visitor. Storefront tokens only."""

from __future__ import annotations

from aiohttp import web

from service.oauth.model import Audience, Claims
from service.web import jsonapi
from service.web.appkeys import ACCOUNTS
from service.web.auth import bearer, forbidden


@bearer(Audience.STOREFRONT)
async def my_customer_user(request: web.Request, claims: Claims) -> web.Response:
    if claims.subject.is_visitor:
        return forbidden("Visitors have no customer user; see customervisitors/mine.")
    customer = await request.app[ACCOUNTS].customer_user(claims.subject)
    if customer is None:
        return jsonapi.error(404, "not found", "The customer user does not exist.")
    return jsonapi.document(
        {
            "data": {
                "type": "customerusers",
                "id": str(customer.id),
                "attributes": {
                    "email": customer.email,
                    "firstName": customer.first_name,
                    "lastName": customer.last_name,
                    "enabled": customer.enabled,
                    "createdAt": customer.created_at.isoformat(),
                },
            }
        }
    )


@bearer(Audience.STOREFRONT)
async def my_visitor(request: web.Request, claims: Claims) -> web.Response:
    if not claims.subject.is_visitor:
        return forbidden("Only guest tokens have a customer visitor.")
    visitor = await request.app[ACCOUNTS].visitor(claims.subject)
    if visitor is None:
        return jsonapi.error(404, "not found", "The visitor does not exist.")
    return jsonapi.document(
        {
            "data": {
                "type": "customervisitors",
                "id": visitor.session_id,
                "attributes": {
                    "sessionId": visitor.session_id,
                    "createdAt": visitor.created_at.isoformat(),
                },
            }
        }
    )


def routes(prefix: str) -> list[web.AbstractRouteDef]:
    return [
        web.get(f"{prefix}/customerusers/mine", my_customer_user),
        web.get(f"{prefix}/customervisitors/mine", my_visitor),
    ]
