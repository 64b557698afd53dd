"""What the admin layer refuses, and which input is at fault."""

from __future__ import annotations


class AdminError(Exception):
    """A refused operation. `fields` name the inputs at fault by their parameter names
    (none: the operation as a whole); each caller spells them its own way (options, JSON
    members)."""

    def __init__(self, fields: tuple[str, ...], message: str) -> None:
        super().__init__(message)
        self.fields = fields
        self.message = message

    def __str__(self) -> str:
        return f"{' and '.join(self.fields)}: {self.message}" if self.fields else self.message


class NotFound(AdminError):
    """The account, client or key the operation names does not exist."""
