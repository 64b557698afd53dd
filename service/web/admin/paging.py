"""The admin API's paged lists: `page[number]` and `page[size]` in, `meta.totalCount` and
`links` (self, next, prev, keeping the filters) out, as /api's user list."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlencode

from aiohttp import web

from service.admin.paging import MAX_PAGE
from service.web.admin.documents import BadDocument

DEFAULT_SIZE = 20
MAX_NUMBER = 1_000_000
PARAMETERS = frozenset({"page[size]", "page[number]"})


@dataclass(frozen=True)
class Page:
    number: int
    size: int

    @property
    def offset(self) -> int:
        return (self.number - 1) * self.size


def _param(request: web.Request, name: str, default: int, maximum: int) -> int:
    raw = request.query.get(f"page[{name}]")
    if raw is None:
        return default
    if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= maximum:
        detail = f"page[{name}] must be an integer from 1 to {maximum}."
        raise BadDocument(400, "invalid query parameter", detail)
    return int(raw)


def requested(request: web.Request, filters: frozenset[str]) -> Page:
    """The page asked for; any query parameter but the page's and `filters` is refused."""
    unknown = set(request.query) - PARAMETERS - filters
    if unknown:
        raise BadDocument(400, "invalid query parameter", f"Unsupported {sorted(unknown)[0]!r}.")
    return Page(
        _param(request, "number", 1, MAX_NUMBER), _param(request, "size", DEFAULT_SIZE, MAX_PAGE)
    )


def links(path: str, page: Page, total: int, filters: Mapping[str, str]) -> dict[str, str]:
    def at(number: int) -> str:
        query = {**filters, "page[size]": str(page.size), "page[number]": str(number)}
        return f"{path}?{urlencode(query, safe='[]')}"

    found = {"self": at(page.number)}
    if page.number * page.size < total:
        found["next"] = at(page.number + 1)
    if page.number > 1:
        found["prev"] = at(page.number - 1)
    return found
