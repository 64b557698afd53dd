"""How the admin layer's lists are paged: by offset and limit, at most MAX_PAGE at a time,
so no list call reads a whole table."""

from __future__ import annotations

from service.admin.errors import AdminError

MAX_PAGE = 100


def checked(offset: int, limit: int) -> None:
    if not 1 <= limit <= MAX_PAGE:
        raise AdminError(("limit",), f"from 1 to {MAX_PAGE}")
    if offset < 0:
        raise AdminError(("offset",), "0 or more")
