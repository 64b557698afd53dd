"""GET /openapi.json on the admin listener: the admin API's OpenAPI 3.1 document. It is
built from what the handlers accept (their `Kinds`) and what service.admin answers (its
result dataclasses), so a member added there is documented without a second edit here."""

from __future__ import annotations

import types
import typing
from typing import Any

from aiohttp import web

from service.admin.accounts import AccountView
from service.admin.clients import ClientView
from service.admin.keys import GeneratedKey, KeyInfo
from service.admin.paging import MAX_PAGE
from service.oauth.model import Audience, GrantType
from service.oauth.ports import LiveLogin
from service.web.admin import accounts, clients, paging, signing
from service.web.admin.documents import Kinds, camel

JSONAPI = "application/vnd.api+json"
JSON_TYPES = {str: "string", int: "integer", bool: "boolean", list: "array"}
ERRORS = {
    400: "A value, query parameter or document refused; `source.pointer` names the member",
    401: "Off loopback: no, or no valid, admin client's access token",
    403: "Off loopback: the token is not an admin client's",
    404: "No such resource (or an owner named in the body)",
    409: "`data.type` is not the resource's, or a username, email or name is taken",
    413: "A body over 64 KiB",
    503: "Postgres, Redis or the keys folder unavailable",
}


def _schema_of(hint: Any) -> dict[str, Any]:
    """A JSON Schema of a result dataclass field's type."""
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        [member] = [a for a in typing.get_args(hint) if a is not type(None)]
        schema = _schema_of(member)
        return {**schema, "type": [schema["type"], "null"]}
    if typing.get_origin(hint) is list:
        return {"type": "array", "items": _schema_of(typing.get_args(hint)[0])}
    return {"type": JSON_TYPES[hint]}


def _attributes(result: type, hidden: tuple[str, ...] = ()) -> dict[str, Any]:
    """What service.web.admin.documents.resource makes of a `result`."""
    fields = {k: v for k, v in typing.get_type_hints(result).items() if k not in ("id", *hidden)}
    return {
        "type": "object",
        "required": [camel(k) for k in fields],
        "properties": {camel(k): _schema_of(v) for k, v in fields.items()},
    }


def _resource(kind: str, result: type, hidden: tuple[str, ...] = ()) -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["type", "id", "attributes"],
        "properties": {
            "type": {"const": kind},
            "id": {"type": "string"},
            "attributes": _attributes(result, hidden),
            "meta": {"type": "object"},
        },
    }


def _input(kinds: Kinds, required: tuple[str, ...] = ()) -> dict[str, Any]:
    """The attributes object service.web.admin.documents.attributes accepts for `kinds`."""
    properties = {}
    for name, allowed in kinds.items():
        names = [JSON_TYPES.get(t, "null") for t in allowed]
        schema: dict[str, Any] = {"type": names[0] if len(names) == 1 else names}
        if list in allowed:
            schema["items"] = {"type": "string"}
        properties[camel(name)] = schema
    return {
        "type": "object",
        "required": [camel(n) for n in required],
        "properties": properties,
        "additionalProperties": False,
    }


def _body(kind: str, kinds: Kinds, required: tuple[str, ...] = ()) -> dict[str, Any]:
    schema = {
        "type": "object",
        "required": ["data"],
        "properties": {
            "data": {
                "type": "object",
                "required": ["type"],
                "properties": {"type": {"const": kind}, "attributes": _input(kinds, required)},
            }
        },
    }
    return {"required": True, "content": {JSONAPI: {"schema": schema}}}


def _document(data: dict[str, Any], meta: dict[str, Any] | None = None) -> dict[str, Any]:
    properties: dict[str, Any] = {"data": data}
    if meta is not None:
        properties["meta"] = {"type": "object", "required": list(meta), "properties": meta}
    return {"type": "object", "required": list(properties), "properties": properties}


def _ref(name: str) -> dict[str, Any]:
    return {"$ref": f"#/components/schemas/{name}"}


INTEGER, STRING, NOTHING = {"type": "integer"}, {"type": "string"}, {"type": "null"}
LINKS = {
    "type": "object",
    "required": ["self"],
    "properties": {"self": STRING, "next": STRING, "prev": STRING},
}


def _list(item: str) -> dict[str, Any]:
    document = _document({"type": "array", "items": _ref(item)}, {"totalCount": INTEGER})
    document["properties"]["links"] = LINKS
    document["required"].append("links")
    return document


def _with_meta(item: str, meta: dict[str, Any]) -> dict[str, Any]:
    """A resource document whose resource carries `meta` (a secret shown once)."""
    return _document(
        {
            "allOf": [
                _ref(item),
                {
                    "type": "object",
                    "required": ["meta"],
                    "properties": {
                        "meta": {"type": "object", "required": list(meta), "properties": meta}
                    },
                },
            ]
        }
    )


def _schemas() -> dict[str, Any]:
    error = {
        "type": "object",
        "required": ["status", "title"],
        "properties": {
            "status": STRING,
            "title": STRING,
            "detail": STRING,
            "source": {
                "type": "object",
                "required": ["pointer"],
                "properties": {"pointer": STRING},
            },
        },
    }
    return {
        "Errors": {
            "type": "object",
            "required": ["errors"],
            "properties": {"errors": {"type": "array", "minItems": 1, "items": error}},
        },
        "Client": _resource(clients.KIND, ClientView, hidden=("client_id",)),
        "User": _resource("users", AccountView),
        "CustomerUser": _resource("customer-users", AccountView, hidden=("username",)),
        "Login": _resource("logins", LiveLogin, hidden=("family",)),
        "Key": _resource("keys", KeyInfo, hidden=("kid",)),
        "GeneratedKey": _resource("keys", GeneratedKey, hidden=("kid",)),
        "ClientList": _list("Client"),
        "UserList": _list("User"),
        "CustomerUserList": _list("CustomerUser"),
        "ClientDocument": _document(_ref("Client")),
        "CreatedClient": _with_meta("Client", {"clientSecret": {"type": ["string", "null"]}}),
        "RotatedSecret": _with_meta("Client", {"clientSecret": STRING, "revokedBefore": INTEGER}),
        "Revoked": _document(NOTHING, {"revokedBefore": INTEGER}),
        "RevokedLogins": _document(NOTHING, {"revokedLogins": INTEGER}),
        "Unlocked": _document(NOTHING, {"unlocked": {"type": "boolean"}}),
        "KeyList": _document({"type": "array", "items": _ref("Key")}),
        "GeneratedKeyDocument": _document(_ref("GeneratedKey")),
        "Retired": _document(NOTHING, {"retired": STRING}),
    }


def _answer(status: int, description: str, schema: str) -> dict[str, Any]:
    return {
        str(status): {"description": description, "content": {JSONAPI: {"schema": _ref(schema)}}}
    }


def _operation(
    summary: str,
    answers: dict[str, Any],
    errors: tuple[int, ...],
    body: dict[str, Any] | None = None,
    parameters: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    responses = dict(answers)
    for status in sorted({*errors, 401, 403, 503}):
        responses.update(_answer(status, ERRORS[status], "Errors"))
    responses["401"]["headers"] = {"WWW-Authenticate": {"schema": STRING}}
    responses["403"]["headers"] = {"WWW-Authenticate": {"schema": STRING}}
    operation: dict[str, Any] = {"summary": summary, "responses": responses}
    if body is not None:
        operation["requestBody"] = body
    if parameters:
        operation["parameters"] = parameters
    return operation


BODY_ERRORS = (400, 409, 413)


def _on_one(summary: str, answered: str, schema: str, at: list[dict[str, Any]]) -> dict[str, Any]:
    """An operation on one named resource, without a body: 200, or 404 when none is named so."""
    return _operation(summary, _answer(200, answered, schema), (404,), parameters=at)


def _query(name: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "in": "query", "schema": schema}


def _path(name: str, pattern: str) -> dict[str, Any]:
    schema = {"type": "string", "pattern": f"^{pattern}$"}
    return {"name": name, "in": "path", "required": True, "schema": schema}


PAGE = [
    _query("page[size]", {"type": "integer", "minimum": 1, "maximum": MAX_PAGE}),
    _query("page[number]", {"type": "integer", "minimum": 1, "maximum": paging.MAX_NUMBER}),
]


def _client_paths() -> dict[str, Any]:
    one = [_path("client_id", clients.ID)]
    filters = [
        _query("filter[audience]", {"enum": [str(a) for a in Audience]}),
        _query("filter[active]", {"enum": ["true", "false"]}),
    ]
    return {
        "/admin/clients": {
            "get": _operation(
                "The clients, oldest first, a page at a time",
                _answer(200, "A page of clients", "ClientList"),
                (400,),
                parameters=PAGE + filters,
            ),
            "post": _operation(
                "Create a client; a confidential one's secret is in data.meta, this once",
                _answer(201, "The client", "CreatedClient"),
                (*BODY_ERRORS, 404),
                _body(clients.KIND, clients.CREATE, ("name",)),
            ),
        },
        "/admin/clients/{client_id}": {
            "get": _on_one("One client", "The client", "ClientDocument", one),
            "patch": _operation(
                "Change the client (deactivating revokes its tokens; null lifetime: config's)",
                _answer(200, "The client as changed", "ClientDocument"),
                (*BODY_ERRORS, 404),
                _body(clients.KIND, clients.CHANGE),
                one,
            ),
            "delete": _on_one(
                "Revoke the client's tokens and delete it", "Deleted", "Revoked", one
            ),
        },
        "/admin/clients/{client_id}/secret": {
            "post": _on_one(
                "A new secret (shown this once); the old one and its tokens stop at once",
                "The new secret",
                "RotatedSecret",
                one,
            ),
        },
        "/admin/clients/{client_id}/tokens": {
            "delete": _on_one("Revoke every token of the client", "Revoked", "Revoked", one),
        },
    }


def _account_paths(audience: Audience) -> dict[str, Any]:
    kind = accounts.KINDS[audience]
    item = "User" if audience is Audience.BACKOFFICE else "CustomerUser"
    required = tuple(n for n in accounts.CREATE[audience] if n not in accounts.NAMES)
    many, one = f"/admin/{kind}", f"/admin/{kind}/{{id}}"
    at = [_path("id", accounts.ID)]
    document = {
        "type": "object",
        "required": ["data"],
        "properties": {"data": _ref(item), "meta": {"type": "object"}},
    }
    changed = {"description": "The account", "content": {JSONAPI: {"schema": document}}}
    search = _query("filter[search]", {"type": "string"})
    return {
        many: {
            "get": _operation(
                f"The {kind} by id, a page at a time; filter[search]: part of a login, any case",
                _answer(200, f"A page of {kind}", f"{item}List"),
                (400,),
                parameters=[*PAGE, search],
            ),
            "post": _operation(
                "Create an account",
                {"201": changed},
                BODY_ERRORS,
                _body(kind, accounts.CREATE[audience], required),
            ),
        },
        one: {
            "get": _operation("One account", {"200": changed}, (404,), parameters=at),
            "patch": _operation(
                "Change names, enabled (disabling revokes the tokens), a user's email",
                {"200": changed},
                (*BODY_ERRORS, 404),
                _body(kind, accounts.CHANGE[audience]),
                at,
            ),
            "delete": _on_one(
                "Revoke the account's tokens and delete it", "Deleted", "RevokedLogins", at
            ),
        },
        f"{one}/password": {
            "post": _operation(
                "Set the password; the account's tokens are revoked",
                {"200": changed},
                (*BODY_ERRORS, 404),
                _body("passwords", accounts.PASSWORD, ("password",)),
                at,
            ),
        },
        f"{one}/unlock": {
            "post": _on_one(
                "Lift a lockout after failed logins", "Whether there was one", "Unlocked", at
            ),
        },
        f"{one}/logins": {
            "get": _operation(
                "The account's live logins",
                {
                    "200": {
                        "description": "Newest first",
                        "content": {
                            JSONAPI: {
                                "schema": _document(
                                    {"type": "array", "items": _ref("Login")},
                                    {"subject": STRING},
                                )
                            }
                        },
                    }
                },
                (404,),
                parameters=at,
            ),
        },
        f"{one}/tokens": {
            "delete": _on_one("Revoke every token of the account", "Revoked", "RevokedLogins", at),
        },
    }


def _key_paths() -> dict[str, Any]:
    return {
        "/admin/keys": {
            "get": _operation("The signing keys", _answer(200, "The keys", "KeyList"), ()),
            "post": _operation(
                "Add the next signing key; it signs once every instance has loaded it",
                _answer(201, "The new key", "GeneratedKeyDocument"),
                (400,),
            ),
        },
        "/admin/keys/{kid}": {"delete": _retire()},
    }


def _retire() -> dict[str, Any]:
    operation = _operation(
        "Retire a key: the tokens it signed are refused from the next reload",
        _answer(200, "Retired", "Retired"),
        (400, 404, 409),
        parameters=[_path("kid", signing.KID), _query("force", {"enum": ["true", "false"]})],
    )
    operation["responses"]["409"]["description"] = (
        "The key signs and no other key may sign yet; `force=true` retires it anyway"
    )
    return operation


def document() -> dict[str, Any]:
    grants = ", ".join(GrantType)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Token service admin API",
            "version": "1",
            "description": (
                "On its own listener (admin.host, admin.port). On loopback no token is "
                "needed; elsewhere an admin client's access token. JSON:API documents, "
                f"camelCase members; grants are of {grants}."
            ),
        },
        "paths": {
            **_client_paths(),
            **_account_paths(Audience.BACKOFFICE),
            **_account_paths(Audience.STOREFRONT),
            **_key_paths(),
            "/openapi.json": {
                "get": _operation(
                    "This document",
                    {
                        "200": {
                            "description": "OpenAPI 3.1",
                            "content": {"application/json": {"schema": {"type": "object"}}},
                        }
                    },
                    (),
                )
            },
        },
        "components": {
            "schemas": _schemas(),
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
        # Optional: a loopback listener takes calls without one.
        "security": [{}, {"bearer": []}],
    }


async def serve(request: web.Request) -> web.Response:
    return web.json_response(document())


def routes() -> list[web.AbstractRouteDef]:
    return [web.get("/openapi.json", serve)]
