"""Reading and writing the admin API's JSON:API documents. Members are camelCase on the
wire (as /api's), snake_case in service.admin; a refusal points at the member at fault."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from aiohttp import web

from service.admin.errors import AdminError
from service.web import jsonapi

MAX_BODY = 64 * 1024


def camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


class BadDocument(Exception):
    """A request the admin API refuses, with the JSON pointer of what is at fault."""

    def __init__(self, status: int, title: str, detail: str, pointer: str | None = None) -> None:
        super().__init__(detail)
        self.status, self.title, self.detail, self.pointer = status, title, detail, pointer

    @classmethod
    def refused(cls, exc: AdminError, status: int = 400, where: str = "attributes") -> BadDocument:
        pointer = f"/data/{where}/{camel(exc.fields[0])}" if exc.fields else None
        title = "not found" if status == 404 else "invalid value"
        return cls(status, title, str(exc), pointer)

    def response(self) -> web.Response:
        error: dict[str, Any] = {"status": str(self.status), "title": self.title}
        error["detail"] = self.detail
        if self.pointer is not None:
            error["source"] = {"pointer": self.pointer}
        return jsonapi.document({"errors": [error]}, self.status)


# What a member may hold: its Python types (bool is not an int here).
Kinds = dict[str, tuple[type, ...]]


async def attributes(request: web.Request, kind: str, kinds: Kinds) -> dict[str, Any]:
    """The attributes of a `{"data": {"type": kind, "attributes": {...}}}` body, snake_cased,
    each checked against `kinds` (None is allowed where NoneType is listed)."""
    raw = await request.read()
    if len(raw) > MAX_BODY:
        raise BadDocument(413, "too large", f"At most {MAX_BODY} bytes.")
    try:
        body = json.loads(raw or b"{}")
    except (ValueError, UnicodeDecodeError):
        raise BadDocument(400, "invalid document", "The body is not JSON.", "") from None
    data = body.get("data") if isinstance(body, dict) else None
    if not isinstance(data, dict):
        raise BadDocument(400, "invalid document", "A `data` object is required.", "/data")
    if data.get("type") != kind:
        raise BadDocument(409, "wrong type", f"`data.type` must be {kind!r}.", "/data/type")
    given = data.get("attributes", {})
    if not isinstance(given, dict):
        raise BadDocument(400, "invalid document", "`attributes` must be an object.", "/data")
    by_camel = {camel(name): name for name in kinds}
    found: dict[str, Any] = {}
    for member, value in given.items():
        pointer = f"/data/attributes/{member}"
        name = by_camel.get(member)
        if name is None:
            raise BadDocument(400, "unknown attribute", f"No attribute {member!r}.", pointer)
        allowed = kinds[name]
        if type(value) not in allowed:
            wanted = " or ".join("null" if t is type(None) else t.__name__ for t in allowed)
            raise BadDocument(400, "invalid value", f"{member} must be {wanted}.", pointer)
        if isinstance(value, list) and not all(isinstance(v, str) for v in value):
            raise BadDocument(400, "invalid value", f"{member} must list strings.", pointer)
        found[name] = value
    return found


def resource(
    kind: str, id_: str | int, result: Any, hidden: tuple[str, ...] = ()
) -> dict[str, Any]:
    """A resource object of a service.admin result (a dataclass), camelCased."""
    values = dataclasses.asdict(result)
    attrs = {camel(k): v for k, v in values.items() if k not in ("id", *hidden)}
    return {"type": kind, "id": str(id_), "attributes": attrs}


def answer(
    data: Any,
    status: int = 200,
    meta: dict[str, Any] | None = None,
    links: dict[str, str] | None = None,
) -> web.Response:
    body: dict[str, Any] = {"data": data}
    if meta:
        body["meta"] = meta
    if links:
        body["links"] = links
    return jsonapi.document(body, status)
